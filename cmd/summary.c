/* What run prints after training: the report items of the spec (`report:`
 * or the defaults of spec_report_items), the point each d2l section makes. */
#include <math.h>
#include <stdio.h>

#include "cmd.h"

/* d2l 3.2 ends by comparing the learned parameters with the truth. */
static void print_linear_recovery(const struct spec *s, const struct model *m, const float *params)
{
    const struct layer *l = &m->layers[0];
    if (s->data.kind != DATASET_SYNTHETIC_LINEAR || m->n_layers != 1 || l->kind != LAYER_LINEAR || l->out != 1)
        return;
    int shown = l->in < 8 ? l->in : 8;
    printf("w");
    for (int j = 0; j < shown; j++)
        printf(" %.6f", params[l->w_off + j]);
    printf("%s\nerror in estimating w:", shown < l->in ? " ..." : "");
    for (int j = 0; j < shown; j++)
        printf(" %.6f", s->data.w[j] - params[l->w_off + j]);
    printf("%s\n", shown < l->in ? " ..." : "");
    if (l->bias)
        printf("b %.6f\nerror in estimating b: %.6f\n", params[l->b_off], s->data.b - params[l->b_off]);
}

/* d2l 4.4: print('weight:', net[0].weight.data), the first linear layer's. */
static void print_weights(const struct model *m, const float *params)
{
    enum { MAX_SHOWN = 32 };
    for (int i = 0; i < m->n_layers; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR)
            continue;
        size_t n = (size_t)l->in * l->out, shown = n < MAX_SHOWN ? n : MAX_SHOWN;
        printf("weight:");
        for (size_t j = 0; j < shown; j++)
            printf(" %.4f", params[l->w_off + j]);
        printf("%s\n", shown < n ? " ..." : "");
        return;
    }
}

/* d2l 3.7: torch.norm(w) (or the L1 norm) over every weight tensor. */
static void print_norm(const struct model *m, const float *params, bool l1)
{
    double sum = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *t = &m->tensors[i];
        if (!t->cols)
            continue;
        for (size_t j = 0; j < tensor_count(t); j++) {
            double w = params[t->off + j];
            sum += l1 ? fabs(w) : w * w;
        }
    }
    printf("%s norm of w: %.4f\n", l1 ? "L1" : "L2", l1 ? sum : sqrt(sum));
}

void print_report(const struct spec *s, const struct model *m, const float *params)
{
    unsigned items = spec_report_items(s);
    for (int i = 0; i < REPORT_ITEM_COUNT; i++) {
        if (!(items & (1u << i)))
            continue;
        switch ((enum report_item)i) {
        case REPORT_RECOVERY:
            print_linear_recovery(s, m, params);
            break;
        case REPORT_WEIGHTS:
            print_weights(m, params);
            break;
        case REPORT_L2_NORM:
            print_norm(m, params, false);
            break;
        case REPORT_L1_NORM:
            print_norm(m, params, true);
            break;
        case REPORT_ITEM_COUNT:
            break;
        }
    }
}
