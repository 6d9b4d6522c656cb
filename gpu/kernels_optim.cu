/* Optimizer steps, one thread per parameter, as torch.optim.SGD and
 * torch.optim.Adam with the arithmetic of core/cpu_backend.c. */
#include "cuda_common.h"

__global__ void sgd_kernel(float *p, const float *g, float *v, size_t n, float lr, float momentum,
                           float weight_decay)
{
    GRID_STRIDE(i, n)
    {
        float d = g[i] + weight_decay * p[i];
        if (momentum != 0) {
            v[i] = momentum * v[i] + d; /* v starts at zero: the first step stores d */
            d = v[i];
        }
        p[i] -= lr * d;
    }
}

void cuda_sgd_step(struct backend *be, float *p, const float *g, float *v, size_t n, float lr,
                   float momentum, float weight_decay)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(sgd_kernel, cuda_blocks(c, n, CUDA_THREADS), c, p, g, v, n, lr, momentum,
                    weight_decay);
}

/* t = *step + 1 is read on the device so a recorded step replays right;
 * the bias corrections are computed in double and rounded to float, as the
 * CPU backend does. */
__global__ void adam_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr,
                            float beta1, float beta2, float eps, float weight_decay,
                            const uint64_t *step)
{
    double t = (double)(*step + 1);
    float correction1 = (float)(1 - pow((double)beta1, t));
    float correction2 = (float)(1 - pow((double)beta2, t));
    GRID_STRIDE(i, n)
    {
        float d = g[i] + weight_decay * p[i];
        m[i] = beta1 * m[i] + (1 - beta1) * d;
        v[i] = beta2 * v[i] + (1 - beta2) * d * d;
        float mhat = m[i] / correction1;
        float vhat = v[i] / correction2;
        p[i] -= lr * mhat / (sqrtf(vhat) + eps);
    }
}

void cuda_adam_step(struct backend *be, float *p, const float *g, float *m, float *v, size_t n,
                    float lr, float beta1, float beta2, float eps, float weight_decay,
                    const uint64_t *step)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(adam_kernel, cuda_blocks(c, n, CUDA_THREADS), c, p, g, m, v, n, lr, beta1, beta2,
                    eps, weight_decay, step);
}
