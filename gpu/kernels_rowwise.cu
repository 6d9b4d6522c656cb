/* Row-wise kernels, one warp per row: softmax forward and backward, and the
 * classification losses (fused cross-entropy, nll) with their accuracy
 * counts. The arithmetic follows core/cpu_backend.c step by step; loss
 * sums go to the double accumulator with one atomic per block. */
#include <limits.h>

#include "cuda_common.h"

/* Rows of a grid of warps: each warp takes rows blockIdx*WARPS + warp,
 * stepping by the grid's warp count. The condition is the same for all
 * lanes of a warp, so full-warp shuffles inside are safe. */
#define FOR_WARP_ROWS(r, rows)                                                                    \
    for (int r = blockIdx.x * CUDA_WARPS + threadIdx.x / 32; r < (rows); r += gridDim.x * CUDA_WARPS)

/* torch.argmax of a row: its maximum and the first index holding it, the
 * same in every lane. */
__device__ inline int row_argmax(const float *z, int cols, float *max)
{
    int lane = threadIdx.x % 32;
    float best = -INFINITY;
    int best_i = INT_MAX; /* a lane without elements loses every tie */
    for (int c = lane; c < cols; c += 32) {
        if (best_i == INT_MAX || z[c] > best) {
            best = z[c];
            best_i = c;
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other = __shfl_xor_sync(FULL_WARP, best, offset);
        int other_i = __shfl_xor_sync(FULL_WARP, best_i, offset);
        if (other > best || (other == best && other_i < best_i)) {
            best = other;
            best_i = other_i;
        }
    }
    *max = best;
    return best_i;
}

static unsigned row_blocks(const struct cuda_impl *c, int rows)
{
    return cuda_blocks(c, (size_t)rows, CUDA_WARPS);
}

__global__ void d2l_softmax_forward_kernel(float *out, const float *in, int rows, int cols)
{
    int lane = threadIdx.x % 32;
    FOR_WARP_ROWS(r, rows)
    {
        const float *z = in + (size_t)r * cols;
        float *o = out + (size_t)r * cols;
        float max = -INFINITY;
        for (int c = lane; c < cols; c += 32)
            max = fmaxf(max, z[c]);
        max = warp_max_f(max);
        float sum = 0;
        for (int c = lane; c < cols; c += 32) {
            o[c] = expf(z[c] - max);
            sum += o[c];
        }
        sum = warp_sum_f(sum);
        for (int c = lane; c < cols; c += 32)
            o[c] /= sum;
    }
}

__global__ void d2l_softmax_backward_kernel(float *din, const float *out, const float *dout, int rows,
                                            int cols)
{
    int lane = threadIdx.x % 32;
    FOR_WARP_ROWS(r, rows)
    {
        const float *s = out + (size_t)r * cols, *g = dout + (size_t)r * cols;
        float dot = 0;
        for (int c = lane; c < cols; c += 32)
            dot += s[c] * g[c];
        dot = warp_sum_f(dot);
        for (int c = lane; c < cols; c += 32)
            din[(size_t)r * cols + c] = s[c] * (g[c] - dot);
    }
}

/* The row's mean summed in double, as the CPU backend does. */
__global__ void d2l_center_rows_kernel(float *out, const float *in, int rows, int cols)
{
    int lane = threadIdx.x % 32;
    FOR_WARP_ROWS(r, rows)
    {
        const float *x = in + (size_t)r * cols;
        double sum = 0;
        for (int c = lane; c < cols; c += 32)
            sum += x[c];
        for (int offset = 16; offset > 0; offset >>= 1)
            sum += __shfl_xor_sync(FULL_WARP, sum, offset);
        float mean = (float)(sum / cols);
        for (int c = lane; c < cols; c += 32)
            out[(size_t)r * cols + c] = x[c] - mean;
    }
}

void cuda_center_rows(struct backend *be, float *out, const float *in, int rows, int cols)
{
    struct cuda_impl *c = cuda_of(be);
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_center_rows_kernel, row_blocks(c, rows), c, out, in, rows, cols);
}

void cuda_softmax_forward(struct backend *be, float *out, const float *in, int rows, int cols)
{
    struct cuda_impl *c = cuda_of(be);
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_softmax_forward_kernel, row_blocks(c, rows), c, out, in, rows, cols);
}

void cuda_softmax_backward(struct backend *be, float *din, const float *out, const float *dout,
                           int rows, int cols)
{
    struct cuda_impl *c = cuda_of(be);
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_softmax_backward_kernel, row_blocks(c, rows), c, din, out, dout, rows, cols);
}

/* Adds a classification batch's loss, correct count and rows. */
__device__ inline void accumulate_classification(double *acc, double loss, double correct, int rows)
{
    block_accumulate(&acc[ACC_LOSS], loss);
    block_accumulate(&acc[ACC_CORRECT], correct);
    if (blockIdx.x == 0 && threadIdx.x == 0)
        atomicAdd(&acc[ACC_COUNT], (double)rows);
}

/* loss = logsumexp(z) - z[y]; grad = (softmax(z) - onehot(y)) * scale. */
__global__ void d2l_cross_entropy_kernel(float *dlogits, double *acc, const float *logits,
                                         const float *labels, int rows, int cols, float grad_scale)
{
    int lane = threadIdx.x % 32;
    double loss = 0, correct = 0;
    FOR_WARP_ROWS(r, rows)
    {
        const float *z = logits + (size_t)r * cols;
        int y = (int)labels[r];
        float zy = z[y], max;
        int predicted = row_argmax(z, cols, &max);
        float sum = 0;
        for (int c = lane; c < cols; c += 32)
            sum += expf(z[c] - max);
        sum = warp_sum_f(sum);
        float lse = max + logf(sum);
        if (lane == 0) {
            loss += lse - zy;
            correct += predicted == y;
        }
        if (dlogits) {
            __syncwarp(); /* every lane has read z[y] before dlogits (maybe z) is written */
            for (int c = lane; c < cols; c += 32)
                dlogits[(size_t)r * cols + c] = (expf(z[c] - lse) - (c == y)) * grad_scale;
        }
    }
    accumulate_classification(acc, loss, correct, rows);
}

/* loss = -log p[y]; grad = -scale / p[y] at the label, 0 elsewhere. */
__global__ void d2l_nll_kernel(float *dprobs, double *acc, const float *probs, const float *labels,
                               int rows, int cols, float grad_scale)
{
    int lane = threadIdx.x % 32;
    double loss = 0, correct = 0;
    FOR_WARP_ROWS(r, rows)
    {
        const float *p = probs + (size_t)r * cols;
        int y = (int)labels[r];
        float py = p[y], max;
        int predicted = row_argmax(p, cols, &max);
        if (lane == 0) {
            loss += -logf(py);
            correct += predicted == y;
        }
        if (dprobs) {
            __syncwarp(); /* every lane has read the row before dprobs (maybe p) is written */
            for (int c = lane; c < cols; c += 32)
                dprobs[(size_t)r * cols + c] = c == y ? -grad_scale / py : 0.0f;
        }
    }
    accumulate_classification(acc, loss, correct, rows);
}

void cuda_cross_entropy(struct backend *be, float *dlogits, double *acc, const float *logits,
                        const float *labels, int rows, int cols, float grad_scale)
{
    struct cuda_impl *c = cuda_of(be);
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_cross_entropy_kernel, row_blocks(c, rows), c, dlogits, acc, logits, labels, rows,
                    cols, grad_scale);
}

void cuda_nll(struct backend *be, float *dprobs, double *acc, const float *probs,
              const float *labels, int rows, int cols, float grad_scale)
{
    struct cuda_impl *c = cuda_of(be);
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_nll_kernel, row_blocks(c, rows), c, dprobs, acc, probs, labels, rows, cols,
                    grad_scale);
}
