#include "model_print.h"

#include <string.h>

/* A layer as its nn.Module's repr. */
static void put_module(FILE *f, const struct layer *l)
{
    switch (l->kind) {
    case LAYER_LINEAR:
        fprintf(f, "Linear(in_features=%d, out_features=%d, bias=%s)", l->in, l->out, l->bias ? "True" : "False");
        break;
    case LAYER_FLATTEN:
        fputs("Flatten(start_dim=1, end_dim=-1)", f);
        break;
    case LAYER_RELU:
        fputs("ReLU()", f);
        break;
    case LAYER_SIGMOID:
        fputs("Sigmoid()", f);
        break;
    case LAYER_TANH:
        fputs("Tanh()", f);
        break;
    case LAYER_DROPOUT:
        fprintf(f, "Dropout(p=%g, inplace=False)", l->p);
        break;
    case LAYER_SOFTMAX:
        fputs("Softmax(dim=1)", f);
        break;
    case LAYER_CENTERED:
        fputs("CenteredLayer()", f);
        break;
    case LAYER_PLUGIN:
        fprintf(f, "%s()", l->plugin.type->name);
        break;
    case LAYER_KIND_COUNT:
        break;
    }
}

/* The dot-separated parts of a module name. */
struct parts {
    char text[SPEC_MODULE_LEN];
    const char *at[SPEC_MODULE_LEN];
    int n;
};

static void split(struct parts *p, const char *module)
{
    snprintf(p->text, sizeof p->text, "%s", module);
    p->n = 0;
    for (char *s = p->text;; s++) {
        p->at[p->n++] = s;
        if (!(s = strchr(s, '.')))
            break;
        *s = '\0';
    }
}

static void indent(FILE *f, int depth)
{
    fprintf(f, "%*s", 2 * depth, "");
}

void model_print_tree(FILE *f, const struct model *m)
{
    struct parts open = {.n = 0}, cur; /* open: the Sequentials around the last layer (all parts but its own) */
    fputs("Sequential(\n", f);
    for (int i = 0; i < m->n_layers; i++) {
        split(&cur, m->layers[i].module);
        int depth = cur.n - 1, common = 0;
        while (common < open.n && common < depth && !strcmp(open.at[common], cur.at[common]))
            common++;
        for (int d = open.n; d > common; d--) {
            indent(f, d);
            fputs(")\n", f);
        }
        for (int d = common; d < depth; d++) {
            indent(f, d + 1);
            fprintf(f, "(%s): Sequential(\n", cur.at[d]);
        }
        indent(f, depth + 1);
        fprintf(f, "(%s): ", cur.at[depth]);
        put_module(f, &m->layers[i]);
        fputc('\n', f);
        open = cur;
        open.n = depth;
        for (int d = 0; d < depth; d++) /* the copy's pointers must point into its own text */
            open.at[d] = open.text + (cur.at[d] - cur.text);
    }
    for (int d = open.n; d > 0; d--) {
        indent(f, d);
        fputs(")\n", f);
    }
    fputs(")\n", f);
}

void model_print_parameters(FILE *f, const struct model *m)
{
    size_t trainable = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *t = &m->tensors[i];
        if (t->cols)
            fprintf(f, "%s torch.Size([%zu, %zu]) %zu", t->name, t->rows, t->cols, tensor_count(t));
        else
            fprintf(f, "%s torch.Size([%zu]) %zu", t->name, t->rows, tensor_count(t));
        char alias[sizeof t->name];
        for (int k = 1; model_tensor_alias(m, t, k, alias, sizeof alias); k++)
            fprintf(f, "%s%s", k == 1 ? " tied: also " : ", ", alias);
        fputs(t->frozen ? " frozen\n" : "\n", f);
        trainable += t->frozen ? 0 : tensor_count(t);
    }
    fprintf(f, "%zu parameters, %zu trainable\n", m->n_params, trainable);
}
