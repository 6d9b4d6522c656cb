/* The leftovers (temporary.h) a cached file's writers can leave: its
 * verified stamp's, NAME.stamp.PID, and for a NAME.gz its raw cache's and
 * that cache's source stamp's, X.idx.PID and X.idx.source.PID. For `fetch`,
 * which sweeps them, and `list`, which shows them. */
#ifndef D2L_CACHE_LEFTOVERS_H
#define D2L_CACHE_LEFTOVERS_H

#include "temporary.h"

/* fn for each leftover of the cached file at path (leftovers_each). */
void cache_leftovers_each(const char *path, void (*fn)(const struct leftover *l, void *ctx), void *ctx);

/* Removes the stale ones (leftovers_sweep); the number removed. */
int cache_leftovers_sweep(const char *path, void (*removed)(const struct leftover *l, void *ctx), void *ctx);

#endif
