/* A scratch directory for one test: made under /tmp, removed at the end. */
#ifndef D2L_TEST_TMPDIR_H
#define D2L_TEST_TMPDIR_H

#include <stddef.h>

/* Makes /tmp/d2l-TAG-XXXXXX; fails the test when it cannot. */
void tmp_dir_make(const char *tag);
void tmp_dir_remove(void);
/* The path of `name` in the directory (one of 16 rotating buffers, so a
 * call can take several). */
const char *tmp_path(const char *name);
/* Writes len bytes to `name` in the directory and returns its path. */
const char *tmp_write(const char *name, const void *data, size_t len);

#endif
