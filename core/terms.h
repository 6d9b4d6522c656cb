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

/* Adam's bias correction 1 - beta^t for t = step + 1, in double as torch. */
TERM_FN float adam_correction(float beta, uint64_t step)
{
    return (float)(1 - pow((double)beta, (double)(step + 1)));
}

/* torch.optim.Adam on one parameter, weight decay added to the gradient. */
TERM_FN void adam_update(float *p, float g, float *m, float *v, float lr, float beta1, float beta2, float eps,
                         float weight_decay, float correction1, float correction2)
{
    float d = g + weight_decay * *p;
    *m = beta1 * *m + (1 - beta1) * d;
    *v = beta2 * *v + (1 - beta2) * d * d;
    float mhat = *m / correction1, vhat = *v / correction2;
    *p -= lr * mhat / (sqrtf(vhat) + eps);
}

#endif
