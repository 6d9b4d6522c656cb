/* Optimizer steps, one thread per parameter, as torch.optim.SGD and
 * torch.optim.Adam with the arithmetic of core/cpu_backend.c. */
#include "cuda_common.h"
#include "../core/terms.h"

__global__ void d2l_sgd_kernel(float *p, const float *g, float *v, size_t n, float lr, float momentum,
                               float weight_decay)
{
    GRID_STRIDE(i, n)
        sgd_update(&p[i], g[i], &v[i], lr, momentum, weight_decay);
}

void cuda_sgd_step(struct backend *be, float *p, const float *g, float *v, size_t n, float lr,
                   float momentum, float weight_decay)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_sgd_kernel, cuda_blocks(c, n, CUDA_THREADS), c, p, g, v, n, lr, momentum,
                    weight_decay);
}

/* t = *step + 1 is read on the device so a recorded step replays right;
 * the scalars are the CPU backend's (core/terms.h). */
__global__ void d2l_adam_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr,
                                double beta1, double beta2, float eps, float weight_decay,
                                const uint64_t *step)
{
    struct adam_scalars a = adam_scalars_at(lr, beta1, beta2, eps, weight_decay, *step);
    GRID_STRIDE(i, n)
        adam_update(&p[i], g[i], &m[i], &v[i], &a);
}

void cuda_adam_step(struct backend *be, float *p, const float *g, float *m, float *v, size_t n,
                    float lr, double beta1, double beta2, float eps, float weight_decay,
                    const uint64_t *step)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_adam_kernel, cuda_blocks(c, n, CUDA_THREADS), c, p, g, m, v, n, lr, beta1, beta2,
                    eps, weight_decay, step);
}
