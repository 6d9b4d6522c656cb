#include "cache_leftovers.h"

#include <limits.h>

#include "raw_cache.h"
#include "stamp.h"

enum { TARGETS = 3 };

/* The names whose temporaries belong to the cached file at path; how many. */
static int targets_of(const char *path, char targets[TARGETS][PATH_MAX])
{
    int n = 0;
    if (!stamp_name(targets[n], PATH_MAX, path))
        n++;
    if (!raw_cache_path(targets[n], PATH_MAX, path)) {
        n++;
        if (!source_stamp_name(targets[n], PATH_MAX, targets[n - 1]))
            n++;
    }
    return n;
}

void cache_leftovers_each(const char *path, void (*fn)(const struct leftover *l, void *ctx), void *ctx)
{
    char targets[TARGETS][PATH_MAX];
    for (int i = 0, n = targets_of(path, targets); i < n; i++)
        leftovers_each(targets[i], fn, ctx);
}

int cache_leftovers_sweep(const char *path, void (*removed)(const struct leftover *l, void *ctx), void *ctx)
{
    char targets[TARGETS][PATH_MAX];
    int removed_n = 0;
    for (int i = 0, n = targets_of(path, targets); i < n; i++)
        removed_n += leftovers_sweep(targets[i], removed, ctx);
    return removed_n;
}
