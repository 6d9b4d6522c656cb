/* The process group a command runs in: the ranks of an MPI job, or this
 * one process. A binary started without a launcher is rank 0 of 1 and
 * never loads MPI; one started by mpirun (Open MPI: OMPI_COMM_WORLD_SIZE),
 * a PMIx launcher (PMIX_RANK: srun --mpi=pmix, prterun) or a PMI-2 one
 * (PMI_RANK: srun --mpi=pmi2) joins the job in comm_start.
 *
 * Collectives are called from the main thread only (MPI_THREAD_FUNNELED):
 * k-fold's worker threads never call them. Every rank must make the same
 * calls in the same order. */
#ifndef D2L_COMM_H
#define D2L_COMM_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* One implementation of the collectives (mpi/comm_mpi.c). */
struct comm_ops {
    void (*allreduce_f32)(float *x, size_t n); /* sum, in place */
    void (*allreduce_f64)(double *x, size_t n);
    void (*allreduce_max_int)(int *x, size_t n);
    void (*gather)(const void *mine, size_t bytes, void *all); /* all: rank 0's, size * bytes */
    void (*bcast)(void *buf, size_t bytes, int root);
    void (*finish)(void);
};

/* True when this binary was built with MPI. */
bool comm_built_in(void);
/* True when a launcher started this process as a rank of a job. */
bool comm_launched(void);
/* Joins the job when launched (else nothing: one rank); ranks other than 0
 * send their stdout to /dev/null, so that what a command prints comes once.
 * EXIT_RUNTIME when launched but the binary has no MPI or MPI_Init fails. */
int comm_start(struct err *e);
/* Leaves the job (MPI_Finalize). */
void comm_finish(void);

int comm_rank(void);
int comm_size(void);
/* This rank among the ranks on its machine (0 for one process): picks its
 * GPU. */
int comm_local_rank(void);
/* The MPI library this binary was built with, or "not built in". */
void comm_describe(char *buf, size_t cap);

/* Sums x over the ranks, in place, on every rank. */
void comm_allreduce_f32(float *x, size_t n);
void comm_allreduce_f64(double *x, size_t n);
/* Rank 0 receives every rank's `bytes` bytes in rank order into all
 * (size * bytes); other ranks' all is unused. */
void comm_gather(const void *mine, size_t bytes, void *all);
/* buf of rank `root` to every rank. */
void comm_bcast(void *buf, size_t bytes, int root);
/* True on every rank when any rank passes true. */
bool comm_any(bool mine);
/* The agreement after a step every rank takes: when any rank failed, every
 * rank returns an error; a rank that did not fail gets the exit code of
 * the lowest failed rank and a message naming it. 0 when none failed. */
int comm_agree(struct err *e);

#endif
