/* A whole file in one malloc'd buffer, for the readers that parse in
 * memory (IDX, CSV). */
#ifndef D2L_READ_ALL_H
#define D2L_READ_ALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../core/error.h"

/* Reads path into *out (NULL for an empty file), *len bytes. Only a regular
 * file is read (a FIFO or device is refused at once, "not a regular file
 * (..., a KIND expected)"), at the size stat gives. A file over
 * max_len bytes is EXIT_DATA, "PATH: N bytes, more than any KIND"; out of
 * memory EXIT_RUNTIME naming the bytes; on error *out is NULL. */
int read_all(const char *path, size_t max_len, const char *kind, uint8_t **out, size_t *len, struct err *e);

/* The same from the open regular file fd (at `path`, stat *st), read from
 * where it stands to st->st_size bytes; fd stays open. */
int read_all_fd(int fd, const struct stat *st, const char *path, size_t max_len, const char *kind, uint8_t **out,
                size_t *len, struct err *e);

#endif
