/* Sequential model: building, forward and backward through the backend. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void *alloc_floats(struct backend *be, size_t n, struct err *e)
{
    return be->alloc(be, n * sizeof(float), e);
}

/* Lays the layers out, counting parameters; widths follow from in_width. */
static int plan_layers(struct model *m, const struct spec *s, int in_width, struct err *e)
{
    int width = in_width;
    uint32_t dropout_id = 0;
    m->n_params = 0;
    m->first_linear = -1;
    for (int i = 0; i < s->n_layers; i++) {
        const struct layer_spec *ls = &s->layers[i];
        struct layer *l = &m->layers[i];
        *l = (struct layer){.kind = ls->kind, .in = width, .out = width, .bias = ls->bias, .p = (float)ls->p};
        if (ls->kind == LAYER_LINEAR) {
            if (m->first_linear < 0)
                m->first_linear = i;
            l->out = ls->out;
            l->w_off = m->n_params;
            m->n_params += (size_t)l->out * l->in;
            l->b_off = m->n_params;
            if (l->bias)
                m->n_params += (size_t)l->out;
        } else if (ls->kind == LAYER_DROPOUT) {
            l->id = dropout_id++;
        }
        width = l->out;
    }
    m->n_layers = s->n_layers;
    m->in_width = in_width;
    m->out_width = width;
    if (m->n_params == 0)
        return err_set(e, EXIT_USAGE, "%s: model: the model has no parameters (add a linear layer)", s->path);
    return 0;
}

static void init_params(struct model *m, const struct spec *s, float *host)
{
    for (int i = 0; i < m->n_layers; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR)
            continue;
        init_fill(host + l->w_off, (size_t)l->out * l->in, &s->weight_init, l->in, l->out, s->seed, l->w_off);
        if (l->bias)
            init_fill(host + l->b_off, (size_t)l->out, &s->bias_init, l->in, l->out, s->seed, l->b_off);
    }
}

int model_build(struct model *m, const struct spec *s, struct backend *be, int in_width, int max_batch,
                struct err *e)
{
    memset(m, 0, sizeof *m);
    m->be = be;
    m->seed = s->seed;
    m->max_batch = max_batch;
    if (plan_layers(m, s, in_width, e))
        return e->code;

    int widest = in_width;
    for (int i = 0; i < m->n_layers; i++)
        widest = m->layers[i].out > widest ? m->layers[i].out : widest;
    size_t batch_cells = (size_t)max_batch * widest;
    if (!(m->params = alloc_floats(be, m->n_params, e)) || !(m->grads = alloc_floats(be, m->n_params, e)) ||
        !(m->opt_m = alloc_floats(be, m->n_params, e)) || !(m->opt_v = alloc_floats(be, m->n_params, e)) ||
        !(m->scratch[0] = alloc_floats(be, batch_cells, e)) ||
        !(m->scratch[1] = alloc_floats(be, batch_cells, e)) ||
        !(m->dout = alloc_floats(be, (size_t)max_batch * m->out_width, e)))
        return e->code;
    for (int i = 0; i < m->n_layers; i++) {
        struct layer *l = &m->layers[i];
        size_t cells = (size_t)max_batch * l->out;
        if (l->kind != LAYER_FLATTEN && !(l->buf = alloc_floats(be, cells, e)))
            return e->code;
        if (l->kind == LAYER_DROPOUT && !(l->mask = alloc_floats(be, cells, e)))
            return e->code;
    }

    float *host = calloc(m->n_params, sizeof *host);
    if (!host)
        return err_set(e, EXIT_RUNTIME, "out of memory: %zu parameters", m->n_params);
    init_params(m, s, host);
    be->upload(be, m->params, host, m->n_params * sizeof *host);
    free(host);
    be->fill(be, m->opt_m, 0, m->n_params);
    be->fill(be, m->opt_v, 0, m->n_params);
    return 0;
}

void model_free(struct model *m)
{
    struct backend *be = m->be;
    if (!be)
        return;
    for (int i = 0; i < m->n_layers; i++) {
        be->release(be, m->layers[i].buf);
        be->release(be, m->layers[i].mask);
    }
    float *bufs[] = {m->params, m->grads, m->opt_m, m->opt_v, m->scratch[0], m->scratch[1], m->dout};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        be->release(be, bufs[i]);
    memset(m, 0, sizeof *m);
}

static bool is_activation(enum layer_kind k) { return k == LAYER_RELU || k == LAYER_SIGMOID || k == LAYER_TANH; }

static enum activation activation_of(enum layer_kind k)
{
    return k == LAYER_RELU ? ACT_RELU : k == LAYER_SIGMOID ? ACT_SIGMOID : ACT_TANH;
}

const float *model_forward(struct model *m, const float *x, int rows, bool training, const uint64_t *step)
{
    struct backend *be = m->be;
    const float *in = x;
    for (int i = 0; i < m->n_layers; i++) {
        struct layer *l = &m->layers[i];
        size_t n = (size_t)rows * l->out;
        l->y = l->buf;
        switch (l->kind) {
        case LAYER_FLATTEN: /* rows are already flat */
            l->y = in;
            break;
        case LAYER_LINEAR: {
            /* An activation right after is fused: the linear's output goes
             * through it into the activation layer's buffer (backward needs
             * only the activation's output, never the linear's). */
            bool fuse = i + 1 < m->n_layers && is_activation(m->layers[i + 1].kind);
            float *out = fuse ? m->layers[i + 1].buf : l->buf;
            l->y = out;
            be->linear_forward(be, out, in, m->params + l->w_off, l->bias ? m->params + l->b_off : NULL, rows,
                               l->in, l->out, fuse, fuse ? activation_of(m->layers[i + 1].kind) : ACT_RELU);
            break;
        }
        case LAYER_RELU:
        case LAYER_SIGMOID:
        case LAYER_TANH:
            if (i == 0 || m->layers[i - 1].kind != LAYER_LINEAR) /* else the linear layer applied it */
                be->act_forward(be, activation_of(l->kind), l->buf, in, n);
            break;
        case LAYER_DROPOUT: /* active only in training, as nn.Dropout */
            if (training && l->p > 0)
                be->dropout_forward(be, l->buf, l->mask, in, n, l->p, m->seed, l->id, step);
            else
                l->y = in;
            break;
        case LAYER_SOFTMAX:
            be->softmax_forward(be, l->buf, in, rows, l->out);
            break;
        }
        in = l->y;
    }
    return in;
}

void model_backward(struct model *m, const float *x, int rows)
{
    struct backend *be = m->be;
    const float *dy = m->dout;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        struct layer *l = &m->layers[i];
        const float *in = i > 0 ? m->layers[i - 1].y : x;
        bool need_din = i > m->first_linear; /* is any parameter below this layer? */
        float *din = dy == m->scratch[0] ? m->scratch[1] : m->scratch[0];
        size_t n = (size_t)rows * l->out;
        switch (l->kind) {
        case LAYER_FLATTEN:
            din = (float *)dy;
            break;
        case LAYER_LINEAR:
            /* dW = dY^T X, db = column sums of dY, dX = dY W */
            be->gemm(be, true, false, l->out, l->in, rows, 1.0f, dy, l->out, in, l->in, 0.0f,
                     m->grads + l->w_off, l->in);
            if (l->bias)
                be->bias_grad(be, m->grads + l->b_off, dy, rows, l->out);
            if (need_din)
                be->gemm(be, false, false, rows, l->in, l->out, 1.0f, dy, l->out, m->params + l->w_off, l->in,
                         0.0f, din, l->in);
            break;
        case LAYER_RELU:
        case LAYER_SIGMOID:
        case LAYER_TANH:
            if (need_din)
                be->act_backward(be, activation_of(l->kind), din, l->y, dy, n);
            break;
        case LAYER_DROPOUT:
            if (l->y == in)
                din = (float *)dy;
            else if (need_din)
                be->mul(be, din, dy, l->mask, n);
            break;
        case LAYER_SOFTMAX:
            if (need_din)
                be->softmax_backward(be, din, l->y, dy, rows, l->out);
            break;
        }
        if (!need_din)
            return;
        dy = din;
    }
}
