/* NCCL, opened with dlopen when data-parallel training first needs it:
 * Debian has no NCCL package, so the build has no nccl.h and links nothing;
 * these are our own declarations of the few types and functions used, as
 * nccl.h 2.x defines them (the ABI is stable across 2.x). */
#ifndef D2L_NCCL_LIB_H
#define D2L_NCCL_LIB_H

#include <cuda_runtime.h>

extern "C" {
#include "../core/error.h"
}

typedef struct ncclComm *ncclComm_t;
struct ncclUniqueId {
    char internal[128]; /* NCCL_UNIQUE_ID_BYTES */
};
typedef int ncclResult_t; /* ncclSuccess 0 */
enum { NCCL_SUCCESS = 0, NCCL_FLOAT32 = 7 /* ncclFloat32 */, NCCL_SUM = 0 /* ncclSum */ };

struct nccl_lib {
    ncclResult_t (*get_unique_id)(ncclUniqueId *id);
    ncclResult_t (*comm_init_rank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*comm_destroy)(ncclComm_t comm);
    ncclResult_t (*all_reduce)(const void *send, void *recv, size_t count, int datatype, int op, ncclComm_t comm,
                               cudaStream_t stream);
    const char *(*error_string)(ncclResult_t result);
};

/* libnccl.so.2, loaded once per process (thread-safe); NULL with *e set
 * (EXIT_RUNTIME, naming the library) when it is absent or lacks a
 * function. */
const struct nccl_lib *nccl_lib(struct err *e);

#endif
