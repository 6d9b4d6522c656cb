/* IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw:
 * a big-endian header (magic 0x00000803 for uint8 images [n, rows, cols],
 * 0x00000801 for uint8 labels [n]) followed by exactly the promised bytes. */
#ifndef D2L_IDX_H
#define D2L_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"
#include "raw_cache.h"

/* Reads uint8 images; *pixels (n * rows * cols bytes, malloc'd) belongs to
 * the caller. On error returns EXIT_DATA with "PATH: problem" in *e and
 * leaves *pixels NULL. A NAME.gz with a verified stamp is read from its raw
 * cache NAME.idx when that matches, else inflated and cached there
 * (raw_cache.h); *use says which. */
int idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows, size_t *cols,
                    enum raw_cache_use *use, struct err *e);

/* Reads uint8 labels; *labels (n bytes, malloc'd) belongs to the caller. */
int idx_read_labels(const char *path, uint8_t **labels, size_t *n, enum raw_cache_use *use, struct err *e);

#endif
