/* The CUDA backend (gpu/): cuBLAS GEMMs, kernels, one stream, CUDA graphs.
 * Included by C code; built only when the Makefile defines D2L_CUDA. */
#ifndef D2L_CUDA_BACKEND_H
#define D2L_CUDA_BACKEND_H

#include <stdbool.h>
#include <stdio.h>

struct backend;
struct err;

#ifdef __cplusplus
extern "C" {
#endif

/* A backend on GPU `device_index`: TF32 tensor-core GEMMs only when
 * allow_tf32 (the spec's `tf32: true`), plain FP32 otherwise. Returns NULL
 * and fills *e (EXIT_RUNTIME) when there is no usable GPU, the index is
 * out of range or the device will not start (busy, out of memory). */
struct backend *cuda_backend_create(int device_index, bool allow_tf32, struct err *e);

/* How many GPUs the CUDA runtime sees; 0 when none (or no driver). */
int cuda_device_count(void);

/* Runtime, driver and cuBLAS versions and each GPU, for `d2ltrain info`;
 * "no GPU: <reason>" when there is none. */
void cuda_print_info(FILE *out);

#ifdef __cplusplus
}
#endif

#endif
