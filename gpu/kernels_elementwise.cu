/* Element-wise and per-row-copy kernels: fills, the step counter, bias,
 * activations, dropout, products and gathers. Each matches the loop of the
 * same name in core/cpu_backend.c. Pointers may alias where backend.h says
 * in-place is fine, so none is __restrict__. */
#include "../core/terms.h"
#include "cuda_common.h"

__global__ void d2l_fill_kernel(float *x, float value, size_t n)
{
    GRID_STRIDE(i, n) x[i] = value;
}

__global__ void d2l_fill_f64_kernel(double *x, double value, size_t n)
{
    GRID_STRIDE(i, n) x[i] = value;
}

__global__ void d2l_step_advance_kernel(uint64_t *step)
{
    *step += 1;
}

void cuda_fill(struct backend *be, float *x, float value, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_fill_kernel, cuda_blocks(c, n, CUDA_THREADS), c, x, value, n);
}

void cuda_fill_f64(struct backend *be, double *x, double value, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_fill_f64_kernel, cuda_blocks(c, n, CUDA_THREADS), c, x, value, n);
}

void cuda_step_advance(struct backend *be, uint64_t *step)
{
    struct cuda_impl *c = cuda_of(be);
    d2l_step_advance_kernel<<<1, 1, 0, c->stream>>>(step);
    cuda_fail_if(cudaGetLastError(), "launch d2l_step_advance_kernel", __FILE__, __LINE__);
}

__global__ void d2l_bias_add_kernel(float *out, const float *bias, size_t n, int cols)
{
    GRID_STRIDE(i, n) out[i] += bias[i % cols];
}

void cuda_bias_add(struct backend *be, float *out, const float *bias, int rows, int cols)
{
    struct cuda_impl *c = cuda_of(be);
    size_t n = (size_t)rows * cols;
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_bias_add_kernel, cuda_blocks(c, n, CUDA_THREADS), c, out, bias, n, cols);
}

/* Column sums without atomics, so the result does not depend on timing: a
 * block takes 32 columns; its 8 warps sum interleaved rows (coalesced, one
 * column per lane) and warp 0 adds the 8 partial sums in a fixed order. */
__global__ void d2l_bias_grad_kernel(float *dbias, const float *dout, int rows, int cols, float beta)
{
    __shared__ double partial[CUDA_WARPS][32];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int col = blockIdx.x * 32 + lane;
    double sum = 0;
    if (col < cols)
        for (int r = warp; r < rows; r += CUDA_WARPS)
            sum += dout[(size_t)r * cols + col];
    partial[warp][lane] = sum;
    __syncthreads();
    if (warp == 0 && col < cols) {
        for (int w = 1; w < CUDA_WARPS; w++)
            sum += partial[w][lane];
        dbias[col] = (beta == 0 ? 0.0f : beta * dbias[col]) + (float)sum;
    }
}

void cuda_bias_grad(struct backend *be, float *dbias, const float *dout, int rows, int cols, float beta)
{
    struct cuda_impl *c = cuda_of(be);
    if (cols <= 0)
        return;
    CUDA_LAUNCH(d2l_bias_grad_kernel, (unsigned)((cols + 31) / 32), c, dbias, dout, rows, cols, beta);
}

__global__ void d2l_act_forward_kernel(enum activation act, float *out, const float *in, size_t n)
{
    GRID_STRIDE(i, n) out[i] = act_term(act, in[i]);
}

__global__ void d2l_act_backward_kernel(enum activation act, float *din, const float *out,
                                        const float *dout, size_t n)
{
    GRID_STRIDE(i, n) din[i] = act_grad_term(act, out[i], dout[i]);
}

void cuda_act_forward(struct backend *be, enum activation act, float *out, const float *in, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_act_forward_kernel, cuda_blocks(c, n, CUDA_THREADS), c, act, out, in, n);
}

void cuda_act_backward(struct backend *be, enum activation act, float *din, const float *out,
                       const float *dout, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_act_backward_kernel, cuda_blocks(c, n, CUDA_THREADS), c, act, din, out, dout, n);
}

/* The step is read on the device, so a recorded graph draws new masks on
 * every replay; dropout_uniform is the CPU's own function. */
__global__ void d2l_dropout_kernel(float *out, float *mask, const float *in, size_t n, uint64_t first,
                                   float p, float keep_scale, uint64_t seed, uint32_t layer_id,
                                   const uint64_t *step)
{
    uint64_t s = *step;
    GRID_STRIDE(i, n)
    {
        float m = dropout_uniform(seed, layer_id, s, first + i) >= p ? keep_scale : 0.0f;
        mask[i] = m;
        out[i] = in[i] * m;
    }
}

void cuda_dropout_forward(struct backend *be, float *out, float *mask, const float *in, size_t n,
                          uint64_t first, float p, uint64_t seed, uint32_t layer_id, const uint64_t *step)
{
    struct cuda_impl *c = cuda_of(be);
    float keep_scale = 1.0f / (1.0f - p);
    if (n)
        CUDA_LAUNCH(d2l_dropout_kernel, cuda_blocks(c, n, CUDA_THREADS), c, out, mask, in, n, first, p,
                    keep_scale, seed, layer_id, step);
}

__global__ void d2l_mul_kernel(float *out, const float *a, const float *b, size_t n)
{
    GRID_STRIDE(i, n) out[i] = a[i] * b[i];
}

void cuda_mul(struct backend *be, float *out, const float *a, const float *b, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    if (n)
        CUDA_LAUNCH(d2l_mul_kernel, cuda_blocks(c, n, CUDA_THREADS), c, out, a, b, n);
}

/* One thread per output element: consecutive threads read consecutive
 * bytes of one source row. */
__global__ void d2l_gather_u8_kernel(float *out, const uint8_t *x, const int32_t *idx, size_t n, int cols,
                                     float scale)
{
    GRID_STRIDE(i, n)
    {
        size_t r = i / cols, col = i - r * cols;
        out[i] = x[(size_t)idx[r] * cols + col] * scale;
    }
}

__global__ void d2l_gather_f32_kernel(float *out, const float *x, const int32_t *idx, size_t n, int cols)
{
    GRID_STRIDE(i, n)
    {
        size_t r = i / cols, col = i - r * cols;
        out[i] = x[(size_t)idx[r] * cols + col];
    }
}

void cuda_gather_u8(struct backend *be, float *out, const uint8_t *x, const int32_t *idx, int rows,
                    int cols, float scale)
{
    struct cuda_impl *c = cuda_of(be);
    size_t n = (size_t)rows * cols;
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_gather_u8_kernel, cuda_blocks(c, n, CUDA_THREADS), c, out, x, idx, n, cols, scale);
}

void cuda_gather_f32(struct backend *be, float *out, const float *x, const int32_t *idx, int rows,
                     int cols)
{
    struct cuda_impl *c = cuda_of(be);
    size_t n = (size_t)rows * cols;
    if (rows > 0 && cols > 0)
        CUDA_LAUNCH(d2l_gather_f32_kernel, cuda_blocks(c, n, CUDA_THREADS), c, out, x, idx, n, cols);
}
