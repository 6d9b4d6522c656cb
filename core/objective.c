#include "objective.h"

/* The backend's element-wise loss of a regression loss kind. */
static enum regression_loss regression_kind(enum loss_kind k)
{
    switch (k) {
    case LOSS_SQUARED:
        return RLOSS_SQUARED;
    case LOSS_HUBER:
        return RLOSS_HUBER;
    case LOSS_L1:
        return RLOSS_L1;
    case LOSS_MSE:
    case LOSS_CROSS_ENTROPY: /* classification: not called */
    case LOSS_NLL:
    case LOSS_KIND_COUNT:
        break;
    }
    return RLOSS_MSE;
}

void loss_apply(struct model *m, const struct loss_spec *loss, double *acc, const float *out, const float *y,
                int rows, int batch_rows, bool with_grad)
{
    struct backend *be = m->be;
    float *grad = with_grad ? m->dout : NULL;
    float scale = 1.0f / batch_rows; /* mean over the batch, as the PyTorch losses */
    int cols = m->out_width;
    switch (loss->kind) {
    case LOSS_CROSS_ENTROPY:
        be->cross_entropy(be, grad, acc, out, y, rows, cols, scale);
        break;
    case LOSS_NLL:
        be->nll(be, grad, acc, out, y, rows, cols, scale);
        break;
    case LOSS_MSE:
    case LOSS_SQUARED:
    case LOSS_HUBER:
    case LOSS_L1:
        be->regression_loss(be, regression_kind(loss->kind), grad, acc, out, y, rows, cols, (float)loss->delta,
                            scale);
        break;
    case LOSS_KIND_COUNT:
        break;
    }
}

/* Over trainable weights, each tied tensor once. */
void penalty_apply(struct model *m, const struct penalty_spec *pen, double *acc, int rows, float grad_scale)
{
    if (pen->kind == PENALTY_NONE)
        return;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *t = &m->tensors[i];
        if (t->cols && !t->frozen)
            m->be->penalty(m->be, pen->kind == PENALTY_L1, m->grads + t->off, acc, m->params + t->off,
                           tensor_count(t), (float)pen->lambda, grad_scale, (float)rows);
    }
}

/* As torch.nn.utils.clip_grad_norm_ over model.parameters(): the norm of
 * every trainable tensor's gradient together, a tied tensor once (it is one
 * tensor), a frozen one not at all (it has no gradient). */
void clip_grads(struct model *m, double max_norm, double *sq_norm)
{
    struct backend *be = m->be;
    be->fill_f64(be, sq_norm, 0, 1);
    for (int i = 0; i < m->n_tensors; i++)
        if (!m->tensors[i].frozen)
            be->sum_squares(be, sq_norm, m->grads + m->tensors[i].off, tensor_count(&m->tensors[i]));
    for (int i = 0; i < m->n_tensors; i++)
        if (!m->tensors[i].frozen)
            be->clip_scale(be, m->grads + m->tensors[i].off, tensor_count(&m->tensors[i]), sq_norm,
                           (float)max_norm);
}

/* Updates params[off, off + n) with the given weight decay. */
static void update_range(struct model *m, const struct optim_spec *o, size_t off, size_t n, float wd,
                         const float *lr, const uint64_t *step)
{
    struct backend *be = m->be;
    switch (o->kind) {
    case OPT_SGD:
        be->sgd_step(be, m->params + off, m->grads + off, m->opt_m + off, n, lr, (float)o->momentum, wd);
        break;
    case OPT_ADAM:
        be->adam_step(be, m->params + off, m->grads + off, m->opt_m + off, m->opt_v + off, n, lr,
                      o->beta1, o->beta2, (float)o->eps, wd, step);
        break;
    case OPT_KIND_COUNT:
        break;
    }
}

/* Each trainable tensor once (a tied one too), frozen ones not at all;
 * neighbours with the same decay in one call. */
void optim_step(struct model *m, const struct optim_spec *o, const float *lr, const uint64_t *step)
{
    size_t start = 0, end = 0;
    float run_wd = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct param_tensor *t = &m->tensors[i];
        if (t->frozen)
            continue;
        float wd = t->cols == 0 && !o->decay_bias ? 0 : (float)o->weight_decay;
        if (end > start && t->off == end && wd == run_wd) {
            end += tensor_count(t);
            continue;
        }
        if (end > start)
            update_range(m, o, start, end - start, run_wd, lr, step);
        start = t->off;
        end = start + tensor_count(t);
        run_wd = wd;
    }
    if (end > start)
        update_range(m, o, start, end - start, run_wd, lr, step);
}
