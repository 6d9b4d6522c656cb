/* Private to the gpu/ sources: the backend's state, the error checks every CUDA and
 * cuBLAS call goes through, launch sizing, warp/block reductions, and the
 * op functions each kernels file provides to the table in cuda_backend.cu. */
#ifndef D2L_CUDA_COMMON_H
#define D2L_CUDA_COMMON_H

#include <cuda_runtime.h>

#include "cublas_lib.h"

extern "C" {
#include "../core/backend.h"
}
#include "cuda_backend.h"

#define CUDA_THREADS 256 /* threads per block of every kernel */
#define CUDA_WARPS (CUDA_THREADS / 32)
#define CUDA_GRAPH_SLOTS 16

struct cuda_graph_slot {
    int key;
    cudaGraphExec_t exec;
};

struct cuda_impl {
    int device;
    int sm_count;
    cudaStream_t stream;
    const struct cublas_lib *blas; /* the loaded cuBLAS entry points */
    cublasHandle_t cublas;
    void *cublas_workspace; /* fixed, so cuBLAS never allocates inside a capture */
    struct cuda_graph_slot graphs[CUDA_GRAPH_SLOTS];
    int n_graphs;       /* slots in use */
    long n_recorded;    /* graphs recorded so far; the next goes to slot n_recorded % SLOTS */
    bool direct;        /* D2L_CUDA_GRAPHS=0: graph_run always calls the body directly */
    const struct nccl_lib *nccl; /* data parallel over NCCL (cuda_allreduce.cu): the library... */
    struct ncclComm *nccl_comm;  /* ...and the ranks' communicator; NULL otherwise */
    char name[16]; /* "cuda:N" */
};

static inline struct cuda_impl *cuda_of(struct backend *be)
{
    return (struct cuda_impl *)be->impl;
}

/* Print "d2ltrain: CUDA error at FILE:LINE: <call>: <why> (hint)" and exit:
 * after a failed launch or an asynchronous fault the device state is lost,
 * so there is nothing better to do. */
void cuda_fail(cudaError_t rc, const char *call, const char *file, int line);
void cublas_fail(cublasStatus_t st, const char *call, const char *file, int line);

#define CUDA_CHECK(call)                                                                          \
    do {                                                                                          \
        cudaError_t rc_ = (call);                                                                 \
        if (rc_ != cudaSuccess)                                                                   \
            cuda_fail(rc_, #call, __FILE__, __LINE__);                                            \
    } while (0)

#define CUBLAS_CHECK(call)                                                                        \
    do {                                                                                          \
        cublasStatus_t st_ = (call);                                                              \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                                         \
            cublas_fail(st_, #call, __FILE__, __LINE__);                                          \
    } while (0)

/* Launches a kernel on the backend's stream and checks the launch. Every
 * kernel of ours is named d2l_*_kernel: the prefix lets tools pick ours out
 * (compute-sanitizer --kernel-name kns=d2l_), since cuBLAS's names contain
 * "_kernel" too. */
#define CUDA_LAUNCH(kernel, blocks, c, ...)                                                       \
    do {                                                                                          \
        kernel<<<(blocks), CUDA_THREADS, 0, (c)->stream>>>(__VA_ARGS__);                          \
        cuda_fail_if(cudaGetLastError(), "launch " #kernel, __FILE__, __LINE__);                   \
    } while (0)

static inline void cuda_fail_if(cudaError_t rc, const char *call, const char *file, int line)
{
    if (rc != cudaSuccess)
        cuda_fail(rc, call, file, line);
}

/* Blocks for `items` work items at `per_block` each, capped at a few waves:
 * the kernels loop (grid-stride) over whatever the grid does not cover.
 * items must be > 0. */
static inline unsigned cuda_blocks(const struct cuda_impl *c, size_t items, size_t per_block)
{
    size_t blocks = (items + per_block - 1) / per_block;
    size_t cap = (size_t)c->sm_count * 16;
    return (unsigned)(blocks < cap ? blocks : cap);
}

/* Grid-stride loop over [0, n) with size_t indices. */
#define GRID_STRIDE(i, n)                                                                         \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                       \
         i += (size_t)gridDim.x * blockDim.x)

#define FULL_WARP 0xffffffffu

__device__ inline double warp_sum(double x)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(FULL_WARP, x, offset);
    return x;
}

__device__ inline float warp_sum_f(float x)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(FULL_WARP, x, offset);
    return x;
}

__device__ inline float warp_max_f(float x)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        x = fmaxf(x, __shfl_xor_sync(FULL_WARP, x, offset));
    return x;
}

/* Sum over the block (every thread of it must call); the total is valid in
 * thread 0. May be called several times in one kernel. */
__device__ inline double block_sum(double x)
{
    __shared__ double warp_sums[CUDA_WARPS];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    x = warp_sum(x);
    __syncthreads(); /* a previous call's readers are done with warp_sums */
    if (lane == 0)
        warp_sums[warp] = x;
    __syncthreads();
    x = threadIdx.x < CUDA_WARPS ? warp_sums[threadIdx.x] : 0.0;
    return warp == 0 ? warp_sum(x) : 0.0;
}

/* Adds this block's sum of x to *acc: one double atomic per block. */
__device__ inline void block_accumulate(double *acc, double x)
{
    x = block_sum(x);
    if (threadIdx.x == 0)
        atomicAdd(acc, x);
}

/* gpu/gemm.cu */
void cuda_gemm(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void cuda_linear_forward(struct backend *be, float *out, const float *in, const float *w, const float *bias,
                         int rows, int in_w, int out_w, bool has_act, enum activation act);

/* gpu/kernels_elementwise.cu */
void cuda_fill(struct backend *be, float *x, float value, size_t n);
void cuda_fill_f64(struct backend *be, double *x, double value, size_t n);
void cuda_step_advance(struct backend *be, uint64_t *step);
void cuda_bias_add(struct backend *be, float *out, const float *bias, int rows, int cols);
void cuda_bias_grad(struct backend *be, float *dbias, const float *dout, int rows, int cols, float beta);
void cuda_center_rows(struct backend *be, float *out, const float *in, int rows, int cols);
void cuda_act_forward(struct backend *be, enum activation act, float *out, const float *in, size_t n);
void cuda_act_backward(struct backend *be, enum activation act, float *din, const float *out,
                       const float *dout, size_t n);
/* cuda_allreduce.cu: the backend's allreduce_start and allreduce, and
 * the communicator's end (cuda_destroy). */
bool cuda_allreduce_start(struct backend *be);
void cuda_allreduce(struct backend *be, float *x, size_t n);
void cuda_allreduce_stop(struct cuda_impl *c);
void cuda_dropout_forward(struct backend *be, float *out, float *mask, const float *in, size_t n, uint64_t first,
                          float p, uint64_t seed, uint32_t layer_id, const uint64_t *step);
void cuda_mul(struct backend *be, float *out, const float *a, const float *b, size_t n);
void cuda_gather_u8(struct backend *be, float *out, const uint8_t *x, const int32_t *idx, int rows,
                    int cols, float scale);
void cuda_gather_f32(struct backend *be, float *out, const float *x, const int32_t *idx, int rows,
                     int cols);

/* gpu/kernels_rowwise.cu */
void cuda_softmax_forward(struct backend *be, float *out, const float *in, int rows, int cols);
void cuda_softmax_backward(struct backend *be, float *din, const float *out, const float *dout,
                           int rows, int cols);
void cuda_cross_entropy(struct backend *be, float *dlogits, double *acc, const float *logits,
                        const float *labels, int rows, int cols, float grad_scale);
void cuda_nll(struct backend *be, float *dprobs, double *acc, const float *probs,
              const float *labels, int rows, int cols, float grad_scale);

/* gpu/kernels_loss.cu */
void cuda_regression_loss(struct backend *be, enum regression_loss kind, float *dpred, double *acc,
                          const float *pred, const float *target, int rows, int cols, float delta,
                          float grad_scale);
void cuda_log_sq_error(struct backend *be, double *acc, const float *pred, const float *target, int n);
void cuda_penalty(struct backend *be, bool l1, float *grad, double *acc, const float *w, size_t n,
                  float lambda, float grad_scale, float count_scale);

/* gpu/kernels_optim.cu */
void cuda_sum_squares(struct backend *be, double *acc, const float *x, size_t n);
void cuda_clip_scale(struct backend *be, float *x, size_t n, const double *sq_norm, float max_norm);
void cuda_sgd_step(struct backend *be, float *p, const float *g, float *v, size_t n, const float *lr,
                   float momentum, float weight_decay);
void cuda_adam_step(struct backend *be, float *p, const float *g, float *m, float *v, size_t n,
                    const float *lr, double beta1, double beta2, float eps, float weight_decay,
                    const uint64_t *step);

#endif
