/* Element-wise losses and penalties that sum into the double accumulator:
 * regression losses, the log squared error of d2l's log_rmse, and the
 * L1/L2 weight penalty. Per-element arithmetic in float as the CPU backend,
 * sums in double, one atomic per block. */
#include "cuda_common.h"
#include "../core/terms.h"

__global__ void d2l_regression_loss_kernel(enum regression_loss kind, float *dpred, double *acc,
                                           const float *pred, const float *target, size_t n, int rows,
                                           float delta, float grad_scale)
{
    double loss = 0;
    GRID_STRIDE(i, n)
    {
        float g;
        loss += regression_term(kind, pred[i] - target[i], delta, &g);
        if (dpred)
            dpred[i] = g * grad_scale;
    }
    block_accumulate(&acc[ACC_LOSS], loss);
    if (blockIdx.x == 0 && threadIdx.x == 0)
        atomicAdd(&acc[ACC_COUNT], (double)rows);
}

void cuda_regression_loss(struct backend *be, enum regression_loss kind, float *dpred, double *acc,
                          const float *pred, const float *target, int rows, int cols, float delta,
                          float grad_scale)
{
    struct cuda_impl *c = cuda_of(be);
    size_t n = (size_t)rows * cols;
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_regression_loss_kernel, cuda_blocks(c, n, CUDA_THREADS), c, kind, dpred, acc, pred,
                    target, n, rows, delta, grad_scale);
}

__global__ void d2l_log_sq_error_kernel(double *acc, const float *pred, const float *target, size_t n)
{
    double sum = 0;
    GRID_STRIDE(i, n)
    {
        float d = logf(fmaxf(pred[i], 1.0f)) - logf(target[i]);
        sum += (double)d * d;
    }
    block_accumulate(&acc[ACC_SQERR], sum);
}

void cuda_log_sq_error(struct backend *be, double *acc, const float *pred, const float *target, int n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n > 0)
        CUDA_LAUNCH(d2l_log_sq_error_kernel, cuda_blocks(c, (size_t)n, CUDA_THREADS), c, acc, pred, target,
                    (size_t)n);
}

/* lambda * (l1: sum |w| | l2: sum w^2 / 2) * count_scale into the
 * accumulator; lambda * (sign(w) | w) * grad_scale added to grad. */
__global__ void d2l_penalty_kernel(bool l1, float *grad, double *acc, const float *w, size_t n,
                                   float lambda, float grad_scale, float count_scale)
{
    double sum = 0;
    GRID_STRIDE(i, n)
    {
        float x = w[i];
        if (l1) {
            sum += fabsf(x);
            if (grad)
                grad[i] += lambda * (float)((x > 0) - (x < 0)) * grad_scale;
        } else {
            sum += 0.5 * (double)x * x;
            if (grad)
                grad[i] += lambda * x * grad_scale;
        }
    }
    sum = block_sum(sum);
    if (threadIdx.x == 0)
        atomicAdd(&acc[ACC_PENALTY], lambda * sum * count_scale);
}

void cuda_penalty(struct backend *be, bool l1, float *grad, double *acc, const float *w, size_t n,
                  float lambda, float grad_scale, float count_scale)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_penalty_kernel, cuda_blocks(c, n, CUDA_THREADS), c, l1, grad, acc, w, n, lambda,
                    grad_scale, count_scale);
}
