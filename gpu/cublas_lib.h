/* cuBLAS, opened with dlopen when a CUDA backend first needs it rather than
 * linked: loading libcublas and libcublasLt takes ~0.2 s (measured on the
 * developer VM: `d2ltrain --version` 0.21 s linked, 0.02 s without), which a
 * CPU run of a CUDA build should not pay, and which a GPU run pays on a
 * thread of its own while the CUDA context is created (cuda_backend.cu) and
 * the data loads (cmd/experiment.c). */
#ifndef D2L_CUBLAS_LIB_H
#define D2L_CUBLAS_LIB_H

#include <cublas_v2.h>

extern "C" {
#include "../core/error.h"
}

/* The few cuBLAS entry points the backend uses, typed from the header. */
struct cublas_lib {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetWorkspace_v2) set_workspace;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasGetProperty) get_property;
    decltype(&cublasGetStatusString) status_string;
};

/* The library, loaded once per process (thread-safe); NULL with *e set
 * (EXIT_RUNTIME) when it cannot be loaded. */
const struct cublas_lib *cublas_lib(struct err *e);

/* cuBLAS's name for a status, or a plain one when cuBLAS is not loaded. */
const char *cublas_status_string(cublasStatus_t st);

#endif
