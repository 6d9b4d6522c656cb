/* GEMM through cuBLAS. The only place that turns the backend's row-major
 * matrices into cuBLAS's column-major ones. */
#include "cuda_common.h"

/* A row-major [r, c] matrix with leading dimension ld is, read column-major,
 * its transpose [c, r] with the same ld. So row-major C = op(A) op(B) is
 * column-major C^T = op(B)^T op(A)^T: swap the operands and m with n, and
 * keep each operand's own transpose flag. */
void cuda_gemm(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    struct cuda_impl *impl = cuda_of(be);
    CUBLAS_CHECK(impl->blas->sgemm(impl->cublas, op_b, op_a, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
}

/* Three ops one after another on the stream; cuBLASLt's epilogues could
 * fuse them. */
void cuda_linear_forward(struct backend *be, float *out, const float *in, const float *w, const float *bias,
                         int rows, int in_w, int out_w, bool has_act, enum activation act)
{
    cuda_gemm(be, false, true, rows, out_w, in_w, 1.0f, in, in_w, w, in_w, 0.0f, out, out_w);
    if (bias)
        cuda_bias_add(be, out, bias, rows, out_w);
    if (has_act)
        cuda_act_forward(be, act, out, out, (size_t)rows * out_w);
}
