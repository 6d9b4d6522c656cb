/* The collectives over MPI (Open MPI), built when the Makefile finds MPI
 * (-DD2L_MPI); core/comm.c calls them only in a launched process. */
#ifndef D2L_COMM_MPI_H
#define D2L_COMM_MPI_H

#include "../core/comm.h"

/* MPI_Init_thread(FUNNELED) and this process's rank, size and rank among
 * the ranks sharing its machine; NULL after filling *e when MPI cannot
 * start. */
const struct comm_ops *comm_mpi_start(int *rank, int *size, int *local_rank, struct err *e);
/* MPI_Get_library_version's first line. */
void comm_mpi_describe(char *buf, size_t cap);

#endif
