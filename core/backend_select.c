/* Chooses the backend a device string names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "comm.h"
#ifdef D2L_CUDA
#include "../gpu/cuda_backend.h"
#endif

#ifdef D2L_CUDA
/* The GPU "cuda" and "auto" mean: 0, or in an MPI job the rank's own, its
 * rank among the ranks of its machine modulo the GPUs there. */
static int default_gpu(void)
{
    int n = cuda_device_count();
    return n > 0 ? comm_local_rank() % n : 0;
}
#endif

/* "cuda" is the default GPU; "cuda:N" GPU N; -1 when the string is malformed. */
static int cuda_index(const char *device)
{
    if (!strcmp(device, "cuda"))
#ifdef D2L_CUDA
        return default_gpu();
#else
        return 0;
#endif
    char *end;
    long i = strtol(device + 5, &end, 10);
    return *end || end == device + 5 || i < 0 || i > 1023 ? -1 : (int)i;
}

struct backend *backend_select(const char *device, struct gemm_precision precision, struct err *e)
{
    if (!strcmp(device, "cpu"))
        return cpu_backend_create(precision.cpu_bf16, e);
    if (!strcmp(device, "auto")) {
#ifdef D2L_CUDA
        if (cuda_device_count() > 0) {
            struct err why = {0};
            struct backend *be = cuda_backend_create(default_gpu(), precision.tf32, &why);
            if (be)
                return be;
            fprintf(stderr, "d2ltrain: %s; training on the CPU\n", why.msg);
        } else {
            fprintf(stderr, "d2ltrain: no usable GPU; training on the CPU\n");
        }
#endif
        return cpu_backend_create(precision.cpu_bf16, e);
    }
    if (strncmp(device, "cuda", 4) || (device[4] && device[4] != ':') || cuda_index(device) < 0) {
        err_set(e, EXIT_USAGE, "device '%s': expected auto, cpu, cuda or cuda:N", device);
        return NULL;
    }
#ifdef D2L_CUDA
    return cuda_backend_create(cuda_index(device), precision.tf32, e);
#else
    err_set(e, EXIT_RUNTIME, "device '%s': this d2ltrain was built without CUDA (nvcc was not found at build "
                             "time); use --device cpu, or rebuild with nvcc on the PATH", device);
    return NULL;
#endif
}
