/* Optimizer steps, one thread per parameter, as torch.optim.SGD and
 * torch.optim.Adam with the arithmetic of core/cpu_backend.c, and gradient
 * clipping. The learning rate and the step are read on the device so that a
 * recorded step replays with this epoch's values. */
#include "cuda_common.h"
#include "../core/terms.h"

__global__ void d2l_sum_squares_kernel(double *acc, const float *x, size_t n)
{
    double sum = 0;
    GRID_STRIDE(i, n)
        sum += (double)x[i] * x[i];
    block_accumulate(acc, sum);
}

void cuda_sum_squares(struct backend *be, double *acc, const float *x, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_sum_squares_kernel, cuda_blocks(c, n, CUDA_THREADS), c, acc, x, n);
}

__global__ void d2l_clip_scale_kernel(float *x, size_t n, const double *sq_norm, float max_norm)
{
    float coef = clip_coefficient(*sq_norm, max_norm);
    if (coef >= 1)
        return;
    GRID_STRIDE(i, n)
        x[i] *= coef;
}

void cuda_clip_scale(struct backend *be, float *x, size_t n, const double *sq_norm, float max_norm)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_clip_scale_kernel, cuda_blocks(c, n, CUDA_THREADS), c, x, n, sq_norm, max_norm);
}

__global__ void d2l_sgd_kernel(float *p, const float *g, float *v, size_t n, const float *lr, float momentum,
                               float weight_decay)
{
    float rate = *lr;
    GRID_STRIDE(i, n)
        sgd_update(&p[i], g[i], &v[i], rate, momentum, weight_decay);
}

void cuda_sgd_step(struct backend *be, float *p, const float *g, float *v, size_t n, const float *lr,
                   float momentum, float weight_decay)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_sgd_kernel, cuda_blocks(c, n, CUDA_THREADS), c, p, g, v, n, lr, momentum,
                    weight_decay);
}

/* t = *step + 1; the scalars are the CPU backend's (core/terms.h). */
__global__ void d2l_adam_kernel(float *p, const float *g, float *m, float *v, size_t n, const float *lr,
                                double beta1, double beta2, float eps, float weight_decay,
                                const uint64_t *step)
{
    struct adam_scalars a = adam_scalars_at(*lr, beta1, beta2, eps, weight_decay, *step);
    GRID_STRIDE(i, n)
        adam_update(&p[i], g[i], &m[i], &v[i], &a);
}

void cuda_adam_step(struct backend *be, float *p, const float *g, float *m, float *v, size_t n,
                    const float *lr, double beta1, double beta2, float eps, float weight_decay,
                    const uint64_t *step)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_adam_kernel, cuda_blocks(c, n, CUDA_THREADS), c, p, g, m, v, n, lr, beta1, beta2,
                    eps, weight_decay, step);
}
