/* Per-element arithmetic that the CPU and CUDA backends share, written once
 * for host and device so that the two compute the same floats. */
#ifndef D2L_TERMS_H
#define D2L_TERMS_H

#include <math.h>
#include <stdint.h>

#include "backend.h"

#ifdef __CUDACC__
#define TERM_FN __host__ __device__ static inline
#else
#define TERM_FN static inline
#endif

/* torch.argmax of one row: the first index of the maximum. Training's
 * accuracy and predict's labels break ties the same way through it. */
TERM_FN int argmax_row(const float *z, int cols)
{
    int best = 0;
    for (int c = 1; c < cols; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

/* An activation of one input (nn.ReLU, nn.Sigmoid, nn.Tanh)... */
TERM_FN float act_term(enum activation act, float x)
{
    switch (act) {
    case ACT_RELU:
        return x > 0 ? x : 0;
    case ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case ACT_TANH:
        return tanhf(x);
    }
    return x;
}

/* ...and its input's gradient from its output y and the output's gradient
 * g: relu y > 0, sigmoid y(1-y), tanh 1-y^2. g is read whatever y is, so a
 * loop over act_grad_term vectorizes. */
TERM_FN float act_grad_term(enum activation act, float y, float g)
{
    switch (act) {
    case ACT_RELU:
        return y > 0 ? g : 0;
    case ACT_SIGMOID:
        return g * y * (1 - y);
    case ACT_TANH:
        return g * (1 - y * y);
    }
    return g;
}

/* Loss of one residual d = pred - target and its derivative: MSE is
 * nn.MSELoss, SQUARED d2l's squared_loss, HUBER nn.HuberLoss(delta), L1
 * nn.L1Loss. */
TERM_FN float regression_term(enum regression_loss kind, float d, float delta, float *grad)
{
    float ad = fabsf(d);
    switch (kind) {
    case RLOSS_MSE:
        *grad = 2 * d;
        return d * d;
    case RLOSS_SQUARED:
        *grad = d;
        return 0.5f * d * d;
    case RLOSS_HUBER:
        if (ad < delta) {
            *grad = d;
            return 0.5f * d * d;
        }
        *grad = d > 0 ? delta : -delta;
        return delta * (ad - 0.5f * delta);
    case RLOSS_L1:
        *grad = (float)((d > 0) - (d < 0));
        return ad;
    }
    *grad = 0;
    return 0;
}

/* torch.optim.SGD on one parameter; v (zero at the start) holds momentum. */
TERM_FN void sgd_update(float *p, float g, float *v, float lr, float momentum, float weight_decay)
{
    float d = g + weight_decay * *p;
    if (momentum != 0) {
        *v = momentum * *v + d;
        d = *v;
    }
    *p -= lr * d;
}

/* torch.nn.utils.clip_grad_norm_'s factor: max_norm / (norm + 1e-6), the
 * gradients scaled only when it is below 1. */
TERM_FN float clip_coefficient(double sq_norm, float max_norm)
{
    return (float)(max_norm / (sqrt(sq_norm) + 1e-6));
}

/* Adam's per-step scalars as torch.optim.Adam has them: the betas and
 * 1 - beta computed in double and rounded once to float (torch passes
 * Python floats to float32 kernels), and the bias corrections 1 - beta^t
 * for t = step + 1 in double. */
struct adam_scalars {
    float lr, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, correction1, correction2;
};

TERM_FN struct adam_scalars adam_scalars_at(float lr, double beta1, double beta2, float eps, float weight_decay,
                                            uint64_t step)
{
    double t = (double)(step + 1);
    struct adam_scalars a = {lr,
                             (float)beta1,
                             (float)beta2,
                             (float)(1 - beta1),
                             (float)(1 - beta2),
                             eps,
                             weight_decay,
                             (float)(1 - pow(beta1, t)),
                             (float)(1 - pow(beta2, t))};
    return a;
}

/* torch.optim.Adam on one parameter, weight decay added to the gradient. */
TERM_FN void adam_update(float *p, float g, float *m, float *v, const struct adam_scalars *a)
{
    float d = g + a->weight_decay * *p;
    *m = a->beta1 * *m + a->one_minus_beta1 * d;
    *v = a->beta2 * *v + a->one_minus_beta2 * d * d;
    float mhat = *m / a->correction1, vhat = *v / a->correction2;
    *p -= a->lr * mhat / (sqrtf(vhat) + a->eps);
}

#endif
