/* The safetensors format (8-byte little-endian header size, a JSON header
 * naming each tensor's dtype, shape and byte range, then the data), read
 * strictly: F32 only, the data covered exactly once, every value finite.
 * safetensors_parse takes bytes and gives tensors, with nothing else to
 * set up, so that it can be fuzzed on its own. */
#ifndef D2L_SAFETENSORS_H
#define D2L_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ST_MAX_DIMS 8

struct st_tensor {
    char *name;
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    size_t count; /* elements: the product of the shape */
    float *data;  /* count values, host memory */
};

/* One entry of the header's "__metadata__" (a map of strings). */
struct st_meta {
    char *key, *value;
};

struct st_file {
    struct st_tensor *tensors; /* in data order */
    int n;
    struct st_meta *meta;
    int n_meta;
};

/* Parses a whole file's bytes; `name` (the file) starts every message.
 * EXIT_DATA for anything but a well-formed F32 file, EXIT_RUNTIME when
 * out of memory. On failure *out is empty. */
int safetensors_parse(struct st_file *out, const unsigned char *bytes, size_t len, const char *name, struct err *e);
/* Reads and parses the regular file at path (a FIFO or device is refused
 * without blocking on it). */
int safetensors_load(struct st_file *out, const char *path, struct err *e);
void safetensors_free(struct st_file *f);
const struct st_tensor *safetensors_find(const struct st_file *f, const char *name);
/* The "__metadata__" value of `key`, or NULL. */
const char *safetensors_metadata(const struct st_file *f, const char *key);
/* "[4,5]" */
void safetensors_shape_text(char *out, size_t cap, const uint64_t *shape, int ndim);

#endif
