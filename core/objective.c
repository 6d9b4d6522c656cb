#include "objective.h"

static enum regression_loss regression_kind(enum loss_kind k)
{
    return k == LOSS_MSE ? RLOSS_MSE : k == LOSS_SQUARED ? RLOSS_SQUARED : k == LOSS_HUBER ? RLOSS_HUBER : RLOSS_L1;
}

void loss_apply(struct model *m, const struct loss_spec *loss, double *acc, const float *out, const float *y,
                int rows, bool with_grad)
{
    struct backend *be = m->be;
    float *grad = with_grad ? m->dout : NULL;
    float scale = 1.0f / rows; /* mean over the batch, as the PyTorch losses */
    int cols = m->out_width;
    switch (loss->kind) {
    case LOSS_CROSS_ENTROPY:
        be->cross_entropy(be, grad, acc, out, y, rows, cols, scale);
        break;
    case LOSS_NLL:
        be->nll(be, grad, acc, out, y, rows, cols, scale);
        break;
    default:
        be->regression_loss(be, regression_kind(loss->kind), grad, acc, out, y, rows, cols, (float)loss->delta,
                            scale);
        break;
    }
}

void penalty_apply(struct model *m, const struct penalty_spec *pen, double *acc, int rows)
{
    if (pen->kind == PENALTY_NONE)
        return;
    for (int i = 0; i < m->n_layers; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind == LAYER_LINEAR)
            m->be->penalty(m->be, pen->kind == PENALTY_L1, m->grads + l->w_off, acc, m->params + l->w_off,
                           (size_t)l->out * l->in, (float)pen->lambda, 1.0f, (float)rows);
    }
}

/* Updates params[off, off + n) with the given weight decay. */
static void update_range(struct model *m, const struct optim_spec *o, size_t off, size_t n, float wd,
                         const uint64_t *step)
{
    struct backend *be = m->be;
    if (o->kind == OPT_SGD)
        be->sgd_step(be, m->params + off, m->grads + off, m->opt_m + off, n, (float)o->lr, (float)o->momentum, wd);
    else
        be->adam_step(be, m->params + off, m->grads + off, m->opt_m + off, m->opt_v + off, n, (float)o->lr,
                      o->beta1, o->beta2, (float)o->eps, wd, step);
}

void optim_step(struct model *m, const struct optim_spec *o, const uint64_t *step)
{
    float wd = (float)o->weight_decay;
    if (wd == 0 || o->decay_bias) {
        update_range(m, o, 0, m->n_params, wd, step);
        return;
    }
    for (int i = 0; i < m->n_layers; i++) { /* decay weights, not biases */
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR)
            continue;
        update_range(m, o, l->w_off, (size_t)l->out * l->in, wd, step);
        if (l->bias)
            update_range(m, o, l->b_off, (size_t)l->out, 0, step);
    }
}
