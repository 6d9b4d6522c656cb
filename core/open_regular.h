/* Opening a file the tool reads whole (a spec, a checkpoint, a cached data
 * file): a FIFO or a device never blocks the open, and anything but a
 * regular file is refused. */
#ifndef D2L_OPEN_REGULAR_H
#define D2L_OPEN_REGULAR_H

#include <stdio.h>
#include <sys/stat.h>

#include "error.h"

/* A read-only descriptor (close-on-exec, blocking reads) of the regular
 * file at path, its stat in *st when st is not NULL; -1 with `code` and
 * "PATH: cannot open: REASON" or "PATH: not a regular file (WHAT)". */
int open_regular(const char *path, const char *what, int code, struct stat *st, struct err *e);

/* The same as a stdio stream ("rb"). */
FILE *fopen_regular(const char *path, const char *what, int code, struct err *e);

#endif
