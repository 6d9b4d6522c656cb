/* The CPU backend's GEMMs: oneDNN matmul primitives, made once per shape
 * and kept in a cache of the calling thread's own (primitives, their
 * memory objects, scratchpads and the stream are never shared between
 * threads, so no lock is needed and k-fold's workers do not contend). */
#ifndef D2L_CPU_GEMM_H
#define D2L_CPU_GEMM_H

#include <stdbool.h>

#include "backend.h"

/* What a GEMM is asked to do besides C = op(A) op(B). */
struct gemm_epilogue {
    float alpha, beta;  /* C = alpha * op(A) op(B) + beta * C */
    const float *bias;  /* [n], added to each row, or NULL */
    bool has_act;       /* then act applied last */
    enum activation act;
};

/* Starts oneDNN's CPU engine once per process; 0 or *e set. *bf16 asks for
 * bf16 arithmetic in the GEMMs: set to false, with a notice on stderr,
 * when oneDNN has no bf16 kernel for them here (cpu_gemm_bf16_usable). */
int cpu_gemm_start(bool *bf16, struct err *e);
bool cpu_gemm_bf16_usable(void);

/* Row-major C[m,n] = epilogue(op(A)[m,k] op(B)[k,n]) with leading
 * dimensions as stored; bf16 selects oneDNN's fpmath mode bf16, else
 * strict FP32. */
void cpu_gemm_run(bool bf16, bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float *c, int ldc, const struct gemm_epilogue *ep);

/* Frees the calling thread's cache (threads other than the first free
 * theirs when they exit). */
void cpu_gemm_release_thread(void);

/* "oneDNN 2.6.3 (OpenMP), ISA avx512_core_bf16", or why it is not
 * available. */
void cpu_gemm_describe(char *buf, size_t size);

#endif
