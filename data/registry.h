/* The dataset registry: a static table that maps a dataset name to its files,
 * and each file to the ordered sources it can be fetched from. Every source
 * carries the SHA-1 of the bytes it serves, because two honest sources may
 * serve different bytes of the same data (Debian's and MXNet's gzip of
 * Fashion-MNIST); the first source's hash is the file's primary hash. */
#ifndef D2L_REGISTRY_H
#define D2L_REGISTRY_H

#include <stddef.h>

#define REGISTRY_MAX_SOURCES 4
#define REGISTRY_MAX_FILES 4

struct registry_source {
    const char *url;  /* http://, https:// or file:// */
    const char *sha1; /* lowercase hex of the bytes this source serves */
    long long size;   /* their size in bytes: a longer body is cut off at once */
};

struct registry_file {
    const char *name; /* cache file name; the only name ever written */
    struct registry_source sources[REGISTRY_MAX_SOURCES];
    int n_sources;
};

struct registry_dataset {
    const char *name;
    const char *description;
    const struct registry_file *files[REGISTRY_MAX_FILES];
    int n_files;
};

/* Every dataset in listing order, i < registry_count(). */
size_t registry_count(void);
const struct registry_dataset *registry_at(size_t i);

/* NULL when no dataset has that name. */
const struct registry_dataset *registry_find(const char *name);

/* The dataset's file of that name, or NULL. */
const struct registry_file *registry_dataset_file(const struct registry_dataset *d,
                                                  const char *file_name);

/* The known dataset name closest to `name` (edit distance), for "did you
 * mean"; NULL when none is close enough to be a plausible typo. */
const char *registry_suggest(const char *name);

#endif
