#include "comm_mpi.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

/* MPI counts are int: a larger buffer goes in pieces. */
#define CHUNK ((size_t)1 << 30)

static void allreduce(void *x, size_t n, size_t elem, MPI_Datatype type, MPI_Op op)
{
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t count = n - off < CHUNK ? n - off : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + off * elem, (int)count, type, op, MPI_COMM_WORLD);
    }
}

static void mpi_allreduce_f32(float *x, size_t n) { allreduce(x, n, sizeof *x, MPI_FLOAT, MPI_SUM); }
static void mpi_allreduce_f64(double *x, size_t n) { allreduce(x, n, sizeof *x, MPI_DOUBLE, MPI_SUM); }
static void mpi_allreduce_max_int(int *x, size_t n) { allreduce(x, n, sizeof *x, MPI_INT, MPI_MAX); }

/* Fixed-size pieces of at most CHUNK bytes each: rank r's piece i lands at
 * all + r * bytes + i * CHUNK. */
static void mpi_gather(const void *mine, size_t bytes, void *all)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Datatype strided = MPI_DATATYPE_NULL;
    for (size_t off = 0; off < bytes; off += CHUNK) {
        size_t count = bytes - off < CHUNK ? bytes - off : CHUNK;
        /* on rank 0 each rank's piece starts `bytes` after the last one's */
        MPI_Datatype piece;
        MPI_Type_contiguous((int)count, MPI_BYTE, &piece);
        MPI_Type_create_resized(piece, 0, (MPI_Aint)bytes, &strided);
        MPI_Type_commit(&strided);
        MPI_Gather((const char *)mine + off, (int)count, MPI_BYTE, rank == 0 ? (char *)all + off : NULL, 1,
                   strided, 0, MPI_COMM_WORLD);
        MPI_Type_free(&strided);
        MPI_Type_free(&piece);
    }
}

static void mpi_bcast(void *buf, size_t bytes, int root)
{
    for (size_t off = 0; off < bytes; off += CHUNK) {
        size_t count = bytes - off < CHUNK ? bytes - off : CHUNK;
        MPI_Bcast((char *)buf + off, (int)count, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

static void mpi_finish(void) { MPI_Finalize(); }

static const struct comm_ops mpi_ops = {
    .allreduce_f32 = mpi_allreduce_f32,
    .allreduce_f64 = mpi_allreduce_f64,
    .allreduce_max_int = mpi_allreduce_max_int,
    .gather = mpi_gather,
    .bcast = mpi_bcast,
    .finish = mpi_finish,
};

const struct comm_ops *comm_mpi_start(int *rank, int *size, int *local_rank, struct err *e)
{
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        err_set(e, EXIT_RUNTIME, "MPI_Init_thread failed");
        return NULL;
    }
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        err_set(e, EXIT_RUNTIME, "MPI gives thread level %d, below MPI_THREAD_FUNNELED", provided);
        return NULL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, local_rank);
    MPI_Comm_free(&node);
    return &mpi_ops;
}

void comm_mpi_describe(char *buf, size_t cap)
{
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    version[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = 0;
    version[strcspn(version, "\n,")] = 0;
    snprintf(buf, cap, "%s", version);
}
