/* Output files that appear whole or not at all: written to NAME.tmp in the
 * output directory, fsynced, renamed into place on commit. */
#ifndef D2L_OUTFILE_H
#define D2L_OUTFILE_H

#include <limits.h>
#include <stdio.h>

#include "error.h"

struct outfile {
    FILE *f;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
};

/* Creates dir (and its parents) when missing. */
int make_dirs(const char *dir, struct err *e);
int outfile_open(struct outfile *o, const char *dir, const char *name, struct err *e);
int outfile_commit(struct outfile *o, struct err *e);
/* Drops an uncommitted file; harmless after commit or on a never-opened one. */
void outfile_abort(struct outfile *o);

#endif
