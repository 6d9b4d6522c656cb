/* What a trained model says about the test set: the first few labels, the
 * Kaggle submission, a predictions table. Shared by run and predict. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/outfile.h"
#include "../core/train.h"
#include "cmd.h"

/* The first maximal logit, as torch.argmax. */
static int argmax(const float *z, int width)
{
    int best = 0;
    for (int c = 1; c < width; c++)
        best = z[c] > z[best] ? c : best;
    return best;
}

/* d2l's predict_ch3: the first test images' true and predicted labels. */
int print_first_predictions(const struct experiment *x, struct model *m, struct err *e)
{
    const struct dataset *test = &x->data.test;
    if (!test->class_names || !test->y || test->n == 0)
        return 0;
    enum { SHOWN = 6 };
    struct dataset head = *test;
    head.n = test->n < SHOWN ? test->n : SHOWN;
    float logits[SHOWN * 64];
    if (m->out_width > 64 || model_predict(m, &head, logits, e))
        return e->code;
    printf("predictions (true -> predicted):");
    for (size_t i = 0; i < head.n; i++)
        printf("%s %s -> %s", i ? "," : "", test->class_names[(int)test->y[i]],
               test->class_names[argmax(logits + i * m->out_width, m->out_width)]);
    printf("\n");
    return 0;
}

float *predict_test_set(struct model *m, const struct dataset *test, struct err *e)
{
    float *out = malloc(test->n * (size_t)m->out_width * sizeof *out + 1);
    if (!out) {
        err_set(e, EXIT_RUNTIME, "out of memory: %zu predictions", test->n);
        return NULL;
    }
    if (model_predict(m, test, out, e)) {
        free(out);
        return NULL;
    }
    return out;
}

int write_submission(const char *dir, const struct dataset *test, const float *out, int width, struct err *e)
{
    struct outfile o = {0};
    if (!outfile_open(&o, dir, "submission.csv", e)) {
        fprintf(o.f, "Id,SalePrice\n");
        for (size_t i = 0; i < test->n; i++)
            fprintf(o.f, "%d,%.6g\n", test->ids ? test->ids[i] : (int)i, out[i * width]);
        outfile_commit(&o, e);
    }
    outfile_abort(&o);
    return e->code;
}

/* The predicted class or value. */
static double predicted(const float *z, int width, bool classify)
{
    return classify ? argmax(z, width) : z[0];
}

int write_predictions_csv(const char *dir, const struct dataset *test, const float *out, int width,
                          struct err *e)
{
    bool classify = test->n_classes > 0;
    struct outfile o = {0};
    if (outfile_open(&o, dir, "predictions.csv", e))
        return e->code;
    fprintf(o.f, "row,predicted,true\n");
    for (size_t i = 0; i < test->n; i++)
        fprintf(o.f, "%zu,%.9g,%.9g\n", i, predicted(out + i * width, width, classify), test->y[i * test->y_width]);
    outfile_commit(&o, e);
    outfile_abort(&o);
    return e->code;
}

void print_test_metric(const struct dataset *test, const float *out, int width)
{
    if (!test->y) {
        printf("%zu predictions (the test set has no labels)\n", test->n);
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < test->n; i++) {
        double p = predicted(out + i * width, width, test->n_classes > 0), y = test->y[i * test->y_width];
        sum += test->n_classes > 0 ? p == y : (p - y) * (p - y);
    }
    if (test->n_classes > 0)
        printf("test_acc %.4f (%zu examples)\n", sum / (double)test->n, test->n);
    else
        printf("test_rmse %.6f (%zu examples)\n", sqrt(sum / (double)test->n), test->n);
}
