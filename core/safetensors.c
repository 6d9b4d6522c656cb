#include "safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/read_all.h"

/* safetensors' own limit on the JSON header */
#define HEADER_MAX ((uint64_t)100 << 20)

void safetensors_free(struct st_file *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    f->tensors = NULL;
    f->n = 0;
    for (int i = 0; i < f->n_meta; i++)
        free(f->meta[i].key), free(f->meta[i].value);
    free(f->meta);
    f->meta = NULL;
    f->n_meta = 0;
}

const struct st_tensor *safetensors_find(const struct st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *safetensors_metadata(const struct st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key))
            return f->meta[i].value;
    return NULL;
}

void safetensors_shape_text(char *out, size_t cap, const uint64_t *shape, int ndim)
{
    size_t used = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && used < cap; d++)
        used += (size_t)snprintf(out + used, cap - used, "%s%llu", d ? "," : "", (unsigned long long)shape[d]);
    if (used < cap)
        snprintf(out + used, cap - used, "]");
}

/* A tensor's entry in the header; *begin and *end are its byte range in the
 * data section, checked to hold exactly its elements. */
static int read_entry(struct st_tensor *t, uint64_t *begin, uint64_t *end, const char *name, const char *key,
                      json_t *entry, uint64_t data_len, struct err *e)
{
    const char *dtype = NULL;
    json_t *shape = NULL;
    json_int_t b = -1, en = -1;
    if (!json_is_object(entry) ||
        json_unpack(entry, "{s:s, s:o, s:[II!]}", "dtype", &dtype, "shape", &shape, "data_offsets", &b, &en))
        return err_set(e, EXIT_DATA, "%s: tensor '%s': expected dtype, shape and data_offsets", name, key);
    if (strcmp(dtype, "F32"))
        return err_set(e, EXIT_DATA, "%s: tensor '%s' is %.16s; d2ltrain reads F32", name, key, dtype);
    if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS)
        return err_set(e, EXIT_DATA, "%s: tensor '%s': shape is not a list of at most %d sizes", name, key,
                       ST_MAX_DIMS);
    t->ndim = (int)json_array_size(shape);
    uint64_t count = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *size = json_array_get(shape, (size_t)d);
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return err_set(e, EXIT_DATA, "%s: tensor '%s': shape holds something other than a size", name, key);
        t->shape[d] = (uint64_t)json_integer_value(size);
        if (t->shape[d] && count > data_len / 4 / t->shape[d]) /* also stops the product overflowing */
            return err_set(e, EXIT_DATA, "%s: tensor '%s': its shape holds more elements than the %llu bytes of data",
                           name, key, (unsigned long long)data_len);
        count *= t->shape[d];
    }
    t->count = (size_t)count;
    if (b < 0 || en < b || (uint64_t)(en - b) != count * 4 || (uint64_t)en > data_len)
        return err_set(e, EXIT_DATA,
                       "%s: tensor '%s': data_offsets [%lld, %lld] do not hold %llu bytes inside the %llu bytes "
                       "of data (truncated file?)",
                       name, key, (long long)b, (long long)en, (unsigned long long)(count * 4),
                       (unsigned long long)data_len);
    *begin = (uint64_t)b;
    *end = (uint64_t)en;
    return 0;
}

struct range {
    uint64_t begin, end;
    int tensor;
};

static int by_begin(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* The data section is covered exactly once: no overlap, gap or tail. */
static int check_cover(struct range *r, int n, const struct st_tensor *t, const char *name, uint64_t data_len,
                       struct err *e)
{
    qsort(r, (size_t)n, sizeof *r, by_begin);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].begin < at)
            return err_set(e, EXIT_DATA, "%s: tensors '%s' and '%s' overlap in the data", name,
                           t[r[i - 1].tensor].name, t[r[i].tensor].name);
        if (r[i].begin > at)
            return err_set(e, EXIT_DATA, "%s: %llu bytes of data before tensor '%s' belong to no tensor", name,
                           (unsigned long long)(r[i].begin - at), t[r[i].tensor].name);
        at = r[i].end;
    }
    if (at != data_len)
        return err_set(e, EXIT_DATA, "%s: %llu bytes after the last tensor's data (a damaged or foreign file?)", name,
                       (unsigned long long)(data_len - at));
    return 0;
}

/* "__metadata__": a map of strings, as the format says. */
static int read_metadata(struct st_file *out, json_t *meta, const char *name, struct err *e)
{
    if (!json_is_object(meta))
        return err_set(e, EXIT_DATA, "%s: __metadata__ is not a JSON object", name);
    size_t n = json_object_size(meta);
    if (!(out->meta = calloc(n ? n : 1, sizeof *out->meta)))
        return err_set(e, EXIT_RUNTIME, "out of memory: the metadata of %s", name);
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v) {
        if (!json_is_string(v))
            return err_set(e, EXIT_DATA, "%s: __metadata__ '%s' is not a string", name, key);
        struct st_meta *m = &out->meta[out->n_meta];
        m->key = strdup(key);
        m->value = strdup(json_string_value(v));
        out->n_meta++;
        if (!m->key || !m->value)
            return err_set(e, EXIT_RUNTIME, "out of memory: the metadata of %s", name);
    }
    return 0;
}

static int read_header(struct st_file *out, json_t *header, const unsigned char *data, uint64_t data_len,
                       const char *name, struct err *e)
{
    size_t n = json_object_size(header);
    struct range *r = calloc(n ? n : 1, sizeof *r);
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    if (!r || !out->tensors) {
        free(r);
        return err_set(e, EXIT_RUNTIME, "out of memory: %zu tensors in %s", n, name);
    }
    const char *key;
    json_t *entry;
    json_object_foreach(header, key, entry) {
        if (!strcmp(key, "__metadata__")) {
            if (read_metadata(out, entry, name, e))
                break;
            continue;
        }
        struct st_tensor *t = &out->tensors[out->n];
        if (read_entry(t, &r[out->n].begin, &r[out->n].end, name, key, entry, data_len, e))
            break;
        if (!(t->name = strdup(key))) {
            err_set(e, EXIT_RUNTIME, "out of memory: tensor names of %s", name);
            break;
        }
        r[out->n].tensor = out->n;
        out->n++;
    }
    if (!e->code && !check_cover(r, out->n, out->tensors, name, data_len, e)) { /* the tensors in data order */
        struct st_tensor *ordered = calloc((size_t)out->n + 1, sizeof *ordered);
        if (!ordered) {
            free(r);
            return err_set(e, EXIT_RUNTIME, "out of memory: %d tensors in %s", out->n, name);
        }
        for (int i = 0; i < out->n; i++)
            ordered[i] = out->tensors[r[i].tensor];
        free(out->tensors);
        out->tensors = ordered;
    }
    for (int i = 0; i < out->n && !e->code; i++) {
        struct st_tensor *t = &out->tensors[i];
        if (!(t->data = malloc(t->count ? t->count * sizeof(float) : 1))) {
            err_set(e, EXIT_RUNTIME, "out of memory: tensor '%s' of %s", t->name, name);
            break;
        }
        memcpy(t->data, data + r[i].begin, t->count * sizeof(float)); /* x86-64 and CUDA hosts are little-endian */
        for (size_t k = 0; k < t->count; k++)
            if (!isfinite(t->data[k])) {
                err_set(e, EXIT_DATA, "%s: tensor '%s' holds %s at element %zu", name, t->name,
                        isnan(t->data[k]) ? "NaN" : "an infinity", k);
                break;
            }
    }
    free(r);
    return e->code;
}

int safetensors_parse(struct st_file *out, const unsigned char *bytes, size_t len, const char *name, struct err *e)
{
    *out = (struct st_file){0};
    if (len < 8)
        return err_set(e, EXIT_DATA, "%s: not a safetensors file: shorter than its 8-byte header size", name);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | bytes[i];
    if (header_len > HEADER_MAX || header_len > len - 8)
        return err_set(e, EXIT_DATA, "%s: not a safetensors file: header size %llu in a %zu-byte file", name,
                       (unsigned long long)header_len, len);
    json_error_t je;
    json_t *header = json_loadb((const char *)bytes + 8, (size_t)header_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(header)) {
        err_set(e, EXIT_DATA, "%s: header is not a JSON object: %s (column %d)", name,
                header ? "another JSON value" : je.text, je.column);
    } else if (!read_header(out, header, bytes + 8 + header_len, len - 8 - header_len, name, e)) {
        json_decref(header);
        return 0;
    }
    json_decref(header);
    safetensors_free(out);
    return e->code;
}

int safetensors_load(struct st_file *out, const char *path, struct err *e)
{
    *out = (struct st_file){0};
    uint8_t *bytes;
    size_t len;
    if (!read_all(path, SIZE_MAX, "a model.safetensors from run --out", &bytes, &len, e))
        safetensors_parse(out, bytes, len, path, e);
    free(bytes);
    return e->code;
}
