#include "comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef D2L_MPI
#include "../mpi/comm_mpi.h"
#endif

/* NULL: one process, the collectives are copies or nothing. */
static const struct comm_ops *ops;
static int rank, size = 1, local_rank;

bool comm_built_in(void)
{
#ifdef D2L_MPI
    return true;
#else
    return false;
#endif
}

bool comm_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

int comm_start(struct err *e)
{
    if (!comm_launched())
        return 0;
#ifdef D2L_MPI
    if (!(ops = comm_mpi_start(&rank, &size, &local_rank, e)))
        return e->code;
    if (rank > 0 && !freopen("/dev/null", "w", stdout))
        return err_set(e, EXIT_RUNTIME, "rank %d: cannot send stdout to /dev/null", rank);
    return 0;
#else
    return err_set(e, EXIT_RUNTIME, "started by an MPI launcher, but this d2ltrain was built without MPI: install "
                   "libopenmpi-dev (scripts/install-deps.sh) and rebuild (make)");
#endif
}

void comm_finish(void)
{
    if (ops)
        ops->finish();
    ops = NULL;
    rank = local_rank = 0;
    size = 1;
}

int comm_rank(void) { return rank; }
int comm_size(void) { return size; }
int comm_local_rank(void) { return local_rank; }

void comm_describe(char *buf, size_t cap)
{
#ifdef D2L_MPI
    comm_mpi_describe(buf, cap);
#else
    snprintf(buf, cap, "not built in");
#endif
}

void comm_allreduce_f32(float *x, size_t n)
{
    if (ops)
        ops->allreduce_f32(x, n);
}

void comm_allreduce_f64(double *x, size_t n)
{
    if (ops)
        ops->allreduce_f64(x, n);
}

void comm_gather(const void *mine, size_t bytes, void *all)
{
    if (ops)
        ops->gather(mine, bytes, all);
    else if (bytes)
        memmove(all, mine, bytes);
}

void comm_bcast(void *buf, size_t bytes, int root)
{
    if (ops)
        ops->bcast(buf, bytes, root);
}

bool comm_any(bool mine)
{
    int v = mine;
    if (ops)
        ops->allreduce_max_int(&v, 1);
    return v != 0;
}

int comm_agree(struct err *e)
{
    if (!ops)
        return e->code;
    /* the largest code, and size - rank of the lowest failed rank */
    int v[2] = {e->code, e->code ? size - rank : 0};
    ops->allreduce_max_int(v, 2);
    if (v[0] && !e->code)
        err_set(e, v[0], "stopping: rank %d failed (its error says why)", size - v[1]);
    return e->code;
}
