/* Sequential model: building, forward and backward through the backend. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void *alloc_floats(struct backend *be, size_t n, struct err *e)
{
    return be->alloc(be, n * sizeof(float), e);
}

/* Appends a tensor of layer `layer` at the end of the parameters. */
static void add_tensor(struct model *m, const struct layer *l, int layer, const char *what, size_t rows, size_t cols,
                       bool frozen)
{
    struct param_tensor *t = &m->tensors[m->n_tensors++];
    *t = (struct param_tensor){.layer = layer, .rows = rows, .cols = cols, .off = m->n_params, .frozen = frozen};
    snprintf(t->name, sizeof t->name, "%.*s.%s", (int)sizeof l->module, l->module, what);
    m->n_params += tensor_count(t);
}

static bool uses_trainable(const struct model *m, const struct layer *l)
{
    if (l->kind == LAYER_LINEAR)
        return !m->tensors[l->weight].frozen || (l->bias && !m->tensors[l->bias_tensor].frozen);
    for (int k = 0; l->kind == LAYER_PLUGIN && k < l->n_own; k++)
        if (!m->tensors[l->first_tensor + k].frozen)
            return true;
    return false;
}

/* The lowest layer that uses a trainable tensor. */
static void find_first_trainable(struct model *m)
{
    m->first_trainable = m->n_layers;
    for (int i = m->n_layers - 1; i >= 0; i--)
        if (uses_trainable(m, &m->layers[i]))
            m->first_trainable = i;
}

/* A plugin layer: its widths and tensors from the shared object. */
static int plan_plugin(struct model *m, struct layer *l, const struct spec *s, int i, struct err *e)
{
    const struct plugin_spec *p = &s->plugins[s->layers[i].plugin];
    if (!m->be->host_memory)
        return err_set(e, EXIT_USAGE, "%s: model[%s]: plugin layer '%s' runs on host memory only; use --device cpu",
                       s->path, l->module, p->name);
    char why[1024];
    if (plugin_open(&l->plugin, p->path, p->name, why, sizeof why))
        return err_set(e, EXIT_USAGE, "%s: model[%s]: %s", s->path, l->module, why);
    plugin_settings(&l->settings, p);
    const struct d2l_layer_type *type = l->plugin.type;
    if ((l->out = type->out_width(&l->settings, l->in, why, sizeof why)) < 1)
        return err_set(e, EXIT_USAGE, "%s: model[%s] (plugin %s): %s", s->path, l->module, p->name, why);
    struct d2l_tensor_shape shapes[D2L_MAX_TENSORS];
    int n = type->tensors(&l->settings, l->in, l->out, shapes);
    if (n < 0 || n > D2L_MAX_TENSORS || m->n_tensors + n > MODEL_MAX_TENSORS)
        return err_set(e, EXIT_USAGE, "%s: model[%s] (plugin %s): %d tensors; at most %d", s->path, l->module,
                       p->name, n, D2L_MAX_TENSORS);
    l->first_tensor = m->n_tensors;
    l->n_own = n;
    for (int k = 0; k < n; k++) {
        if (shapes[k].rows < 1 || shapes[k].cols < 0 || !shapes[k].name)
            return err_set(e, EXIT_USAGE, "%s: model[%s] (plugin %s): tensor %d has no name or shape", s->path,
                           l->module, p->name, k);
        add_tensor(m, l, i, shapes[k].name, (size_t)shapes[k].rows, (size_t)shapes[k].cols, false);
    }
    return 0;
}

/* A layer that shares the tensors of an earlier one. */
static int plan_shared(struct model *m, struct layer *l, int owner, const struct spec *s, int i, struct err *e)
{
    const struct layer *o = &m->layers[owner];
    if (o->in != l->in)
        return err_set(e, EXIT_USAGE, "%s: model[%s]: shares '%s', which takes %d inputs, but gets %d", s->path,
                       l->module, s->layers[owner].name, o->in, l->in);
    l->owner = owner;
    l->out = o->out;
    l->bias = o->bias;
    l->weight = o->weight;
    l->bias_tensor = o->bias_tensor;
    l->w_off = o->w_off;
    l->b_off = o->b_off;
    for (int j = 0; j < i; j++) /* backward meets this use first: the earlier ones add to its gradient */
        m->layers[j].accumulate |= m->layers[j].kind == LAYER_LINEAR && m->layers[j].owner == owner;
    return 0;
}

/* Lays the layers out, counting parameters; widths follow from in_width. */
static int plan_layers(struct model *m, const struct spec *s, int in_width, struct err *e)
{
    int width = in_width;
    uint32_t dropout_id = 0;
    m->n_params = 0;
    for (int i = 0; i < s->n_layers; i++) {
        const struct layer_spec *ls = &s->layers[i];
        struct layer *l = &m->layers[i];
        *l = (struct layer){.kind = ls->kind, .in = width, .out = width, .bias = ls->bias, .p = (float)ls->p,
                            .owner = i, .bias_tensor = -1};
        snprintf(l->module, sizeof l->module, "%s", spec_module_name(s, i).text);
        if (ls->kind == LAYER_LINEAR && ls->share[0]) {
            if (plan_shared(m, l, ls->owner, s, i, e))
                return e->code;
        } else if (ls->kind == LAYER_LINEAR) {
            l->out = ls->out;
            l->w_off = m->n_params;
            l->weight = m->n_tensors;
            add_tensor(m, l, i, "weight", (size_t)l->out, (size_t)l->in, ls->frozen);
            l->b_off = m->n_params;
            if (l->bias) {
                l->bias_tensor = m->n_tensors;
                add_tensor(m, l, i, "bias", (size_t)l->out, 0, ls->frozen);
            }
        } else if (ls->kind == LAYER_PLUGIN) {
            if (plan_plugin(m, l, s, i, e))
                return e->code;
        } else if (ls->kind == LAYER_DROPOUT) {
            l->id = dropout_id++;
        }
        width = l->out;
    }
    m->n_layers = s->n_layers;
    m->in_width = in_width;
    m->out_width = width;
    find_first_trainable(m);
    if (m->n_params == 0)
        return err_set(e, EXIT_USAGE, "%s: model: the model has no parameters (add a linear layer)", s->path);
    return 0;
}

/* Each tensor from its layer's own init, else the spec's. */
static void init_params(struct model *m, const struct spec *s, float *host)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *t = &m->tensors[i];
        const struct layer_spec *ls = &s->layers[t->layer];
        const struct layer *l = &m->layers[t->layer];
        const struct init_spec *init = t->cols ? (ls->own_weight_init ? &ls->weight_init : &s->weight_init)
                                               : (ls->own_bias_init ? &ls->bias_init : &s->bias_init);
        init_fill(host + t->off, tensor_count(t), init, l->in, l->out, s->seed, t->off);
    }
}

bool model_tensor_alias(const struct model *m, const struct param_tensor *t, int k, char *name, size_t cap)
{
    if (k == 0) {
        snprintf(name, cap, "%s", t->name);
        return true;
    }
    const char *what = t->cols ? "weight" : "bias";
    for (int i = t->layer + 1; i < m->n_layers; i++) { /* the linear layers that share t's */
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR || l->owner != t->layer || --k > 0)
            continue;
        snprintf(name, cap, "%s.%s", l->module, what);
        return true;
    }
    return false;
}

int model_freeze(struct model *m, const char *pattern)
{
    int matched = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        char name[sizeof m->tensors[i].name];
        bool match = false;
        for (int k = 0; !match && model_tensor_alias(m, &m->tensors[i], k, name, sizeof name); k++)
            match = fnmatch(pattern, name, 0) == 0;
        if (match) {
            m->tensors[i].frozen = true;
            matched++;
        }
    }
    find_first_trainable(m);
    return matched;
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
    be->fill(be, m->grads, 0, m->n_params);
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
        plugin_close(&m->layers[i].plugin);
    }
    float *bufs[] = {m->params, m->grads, m->opt_m, m->opt_v, m->scratch[0], m->scratch[1], m->dout};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        be->release(be, bufs[i]);
    memset(m, 0, sizeof *m);
}

static bool is_activation(enum layer_kind k) { return k == LAYER_RELU || k == LAYER_SIGMOID || k == LAYER_TANH; }

/* The activation layers' backend op; called for those only. */
static enum activation activation_of(enum layer_kind k)
{
    switch (k) {
    case LAYER_RELU:
        return ACT_RELU;
    case LAYER_SIGMOID:
        return ACT_SIGMOID;
    case LAYER_TANH:
    case LAYER_LINEAR:
    case LAYER_FLATTEN:
    case LAYER_DROPOUT:
    case LAYER_SOFTMAX:
    case LAYER_CENTERED:
    case LAYER_PLUGIN:
    case LAYER_KIND_COUNT:
        break;
    }
    return ACT_TANH;
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
                be->dropout_forward(be, l->buf, l->mask, in, n, (uint64_t)m->batch_row0 * (uint64_t)l->out, l->p,
                                   m->seed, l->id, step);
            else
                l->y = in;
            break;
        case LAYER_SOFTMAX:
            be->softmax_forward(be, l->buf, in, rows, l->out);
            break;
        case LAYER_CENTERED:
            be->center_rows(be, l->buf, in, rows, l->out);
            break;
        case LAYER_PLUGIN: {
            const float *params[D2L_MAX_TENSORS];
            for (int k = 0; k < l->n_own; k++)
                params[k] = m->params + m->tensors[l->first_tensor + k].off;
            l->plugin.type->forward(&l->settings, l->in, l->out, params, in, l->buf, rows);
            break;
        }
        case LAYER_KIND_COUNT:
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
        if (i < m->first_trainable)
            return;
        bool need_din = i > m->first_trainable; /* is any trainable parameter below this layer? */
        float *din = dy == m->scratch[0] ? m->scratch[1] : m->scratch[0];
        size_t n = (size_t)rows * l->out;
        float beta = l->accumulate ? 1.0f : 0.0f;
        switch (l->kind) {
        case LAYER_FLATTEN:
            din = (float *)dy;
            break;
        case LAYER_LINEAR:
            /* dW = dY^T X, db = column sums of dY, dX = dY W; a tied tensor's
             * gradient sums over its uses */
            if (!m->tensors[l->weight].frozen)
                be->gemm(be, true, false, l->out, l->in, rows, 1.0f, dy, l->out, in, l->in, beta,
                         m->grads + l->w_off, l->in);
            if (l->bias && !m->tensors[l->bias_tensor].frozen)
                be->bias_grad(be, m->grads + l->b_off, dy, rows, l->out, beta);
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
        case LAYER_CENTERED:
            if (need_din)
                be->center_rows(be, din, dy, rows, l->out);
            break;
        case LAYER_PLUGIN: {
            const float *params[D2L_MAX_TENSORS];
            float *grads[D2L_MAX_TENSORS];
            for (int k = 0; k < l->n_own; k++) {
                params[k] = m->params + m->tensors[l->first_tensor + k].off;
                grads[k] = m->grads + m->tensors[l->first_tensor + k].off;
            }
            l->plugin.type->backward(&l->settings, l->in, l->out, params, grads, in, l->y, dy, need_din ? din : NULL,
                                     rows);
            break;
        }
        case LAYER_KIND_COUNT:
            break;
        }
        if (!need_din)
            return;
        dy = din;
    }
}
