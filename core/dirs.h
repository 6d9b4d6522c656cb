/* Directories the tool writes into: the data cache, --out. */
#ifndef D2L_DIRS_H
#define D2L_DIRS_H

#include <sys/types.h>

#include "error.h"

/* mkdir -p: every missing component with `mode` (less the umask); dir must
 * end up a directory. Errors carry `code`. */
int make_dirs(const char *dir, mode_t mode, int code, struct err *e);

/* fsync of a directory, so that a rename in it reaches the disk. */
int sync_dir(const char *path, int code, struct err *e);

#endif
