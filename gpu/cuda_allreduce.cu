/* Data parallel on GPUs: the gradient sum over the ranks with NCCL, on the
 * backend's stream, when every rank has a GPU of its own and every rank
 * loads NCCL (libnccl.so.2); otherwise — ranks sharing a GPU (the same
 * device UUID), NCCL absent somewhere — the trainer sums through host
 * memory over MPI (core/train.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "cuda_common.h"
#include "nccl_lib.h"

extern "C" {
#include "../core/comm.h"
}

static void nccl_fail(const struct nccl_lib *nccl, ncclResult_t rc, const char *call, const char *file, int line)
{
    fprintf(stderr, "d2ltrain: error: rank %d: NCCL error at %s:%d: %s: %s\n", comm_rank(), file, line, call,
            nccl->error_string(rc));
    exit(EXIT_RUNTIME);
}

#define NCCL_CHECK(nccl, call)                                                                    \
    do {                                                                                          \
        ncclResult_t rc_ = (call);                                                                \
        if (rc_ != NCCL_SUCCESS)                                                                  \
            nccl_fail(nccl, rc_, #call, __FILE__, __LINE__);                                      \
    } while (0)

/* Whether two ranks of the job drive the same GPU: rank 0 compares every
 * rank's device UUID and tells the others. */
static bool ranks_share_a_gpu(int device)
{
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int size = comm_size();
    std::vector<char> all(comm_rank() == 0 ? (size_t)size * sizeof prop.uuid.bytes : 1);
    comm_gather(prop.uuid.bytes, sizeof prop.uuid.bytes, all.data());
    int shared = 0;
    for (int i = 0; comm_rank() == 0 && i < size; i++)
        for (int j = i + 1; j < size; j++)
            shared |= !memcmp(&all[(size_t)i * sizeof prop.uuid.bytes], &all[(size_t)j * sizeof prop.uuid.bytes],
                              sizeof prop.uuid.bytes);
    comm_bcast(&shared, sizeof shared, 0);
    return shared != 0;
}

bool cuda_allreduce_start(struct backend *be)
{
    struct cuda_impl *c = cuda_of(be);
    bool shared = ranks_share_a_gpu(c->device);
    struct err why = {0};
    const struct nccl_lib *nccl = shared ? NULL : nccl_lib(&why);
    if (!shared && !nccl)
        fprintf(stderr, "d2ltrain: rank %d: %s\n", comm_rank(), why.msg);
    if (shared || comm_any(!nccl)) {
        if (comm_rank() == 0)
            fprintf(stderr, "d2ltrain: data parallel: %s; the gradients are summed through host memory over MPI\n",
                    shared ? "ranks share a GPU" : "NCCL is missing on a rank");
        return false;
    }
    ncclUniqueId id;
    if (comm_rank() == 0)
        NCCL_CHECK(nccl, nccl->get_unique_id(&id));
    comm_bcast(&id, sizeof id, 0);
    NCCL_CHECK(nccl, nccl->comm_init_rank(&c->nccl_comm, comm_size(), id, comm_rank()));
    c->nccl = nccl;
    return true;
}

void cuda_allreduce(struct backend *be, float *x, size_t n)
{
    struct cuda_impl *c = cuda_of(be);
    NCCL_CHECK(c->nccl, c->nccl->all_reduce(x, x, n, NCCL_FLOAT32, NCCL_SUM, c->nccl_comm, c->stream));
}

void cuda_allreduce_stop(struct cuda_impl *c)
{
    if (c->nccl_comm)
        NCCL_CHECK(c->nccl, c->nccl->comm_destroy(c->nccl_comm));
    c->nccl_comm = NULL;
}
