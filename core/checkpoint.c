#include "checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "open_regular.h"

/* safetensors' own limit on the JSON header */
#define HEADER_MAX ((uint64_t)100 << 20)

/* One parameter tensor of a model: a linear layer's weight [out, in] or
 * bias [out] (cols 0), at params[off .. off + rows * max(cols, 1)). */
struct tensor {
    char name[32];
    size_t rows, cols, off;
};

static size_t tensor_count(const struct tensor *t)
{
    return t->rows * (t->cols ? t->cols : 1);
}

/* The model's tensors in parameter order; returns how many. */
static int model_tensors(const struct model *m, struct tensor out[2 * SPEC_MAX_LAYERS])
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR)
            continue;
        out[n] = (struct tensor){.rows = (size_t)l->out, .cols = (size_t)l->in, .off = l->w_off};
        snprintf(out[n++].name, sizeof out->name, "%d.weight", i);
        if (l->bias) {
            out[n] = (struct tensor){.rows = (size_t)l->out, .off = l->b_off};
            snprintf(out[n++].name, sizeof out->name, "%d.bias", i);
        }
    }
    return n;
}

int checkpoint_write(FILE *f, const struct model *m, const float *params, struct err *e)
{
    struct tensor t[2 * SPEC_MAX_LAYERS];
    int n = model_tensors(m, t);
    json_t *header = json_object();
    int bad = !header;
    for (int i = 0; i < n && !bad; i++) {
        json_t *shape = t[i].cols ? json_pack("[II]", (json_int_t)t[i].rows, (json_int_t)t[i].cols)
                                  : json_pack("[I]", (json_int_t)t[i].rows);
        json_t *entry = json_pack("{s:s, s:o, s:[II]}", "dtype", "F32", "shape", shape, "data_offsets",
                                  (json_int_t)(t[i].off * 4), (json_int_t)((t[i].off + tensor_count(&t[i])) * 4));
        bad = !entry || json_object_set_new(header, t[i].name, entry);
    }
    char *text = bad ? NULL : json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(header);
    if (!text)
        return err_set(e, EXIT_RUNTIME, "cannot encode the checkpoint header");
    /* Parameters are stored in layer order, so data offsets are params offsets. */
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char size_le[8];
    for (int i = 0; i < 8; i++)
        size_le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(size_le, 1, 8, f);
    fwrite(text, 1, len, f);
    for (size_t i = len; i < padded; i++)
        fputc(' ', f);
    free(text);
    fwrite(params, sizeof(float), m->n_params, f); /* x86-64 and CUDA hosts are little-endian */
    return 0;
}

/* Checks one header entry against the model's tensor t; returns its byte
 * offsets in the data section. */
static int check_entry(const char *path, json_t *entry, const struct tensor *t, uint64_t data_len, uint64_t *begin,
                       struct err *e)
{
    const char *dtype = NULL;
    json_t *shape = NULL;
    json_int_t b = -1, end = -1;
    if (!json_is_object(entry) ||
        json_unpack(entry, "{s:s, s:o, s:[II!]}", "dtype", &dtype, "shape", &shape, "data_offsets", &b, &end))
        return err_set(e, EXIT_DATA, "%s: tensor '%s': expected dtype, shape and data_offsets", path, t->name);
    if (strcmp(dtype, "F32"))
        return err_set(e, EXIT_DATA, "%s: tensor '%s' is %s; d2ltrain reads F32", path, t->name, dtype);
    size_t want_dims = t->cols ? 2 : 1, want[2] = {t->rows, t->cols};
    bool same = json_is_array(shape) && json_array_size(shape) == want_dims;
    for (size_t i = 0; same && i < want_dims; i++) {
        json_t *d = json_array_get(shape, i);
        same = json_is_integer(d) && json_integer_value(d) == (json_int_t)want[i];
    }
    if (!same) {
        char *got = json_dumps(shape, JSON_COMPACT | JSON_ENCODE_ANY);
        char need[64];
        if (t->cols)
            snprintf(need, sizeof need, "[%zu,%zu]", t->rows, t->cols);
        else
            snprintf(need, sizeof need, "[%zu]", t->rows);
        err_set(e, EXIT_DATA, "%s: tensor '%s' has shape %s; the spec's model needs %s (saved from another spec or "
                "--set?)", path, t->name, got ? got : "?", need);
        free(got);
        return e->code;
    }
    uint64_t bytes = tensor_count(t) * sizeof(float);
    if (b < 0 || end < b || (uint64_t)(end - b) != bytes || (uint64_t)end > data_len)
        return err_set(e, EXIT_DATA,
                       "%s: tensor '%s': data_offsets [%lld, %lld] do not hold %llu bytes inside the %llu bytes "
                       "of data (truncated file?)",
                       path, t->name, (long long)b, (long long)end, (unsigned long long)bytes,
                       (unsigned long long)data_len);
    *begin = (uint64_t)b;
    return 0;
}

/* Reads the tensors the header lists into params; the header is checked
 * first, so nothing is read from a file that does not fit the model. */
static int read_tensors(const char *path, FILE *f, json_t *header, uint64_t data_start, uint64_t data_len,
                        const struct model *m, float *params, struct err *e)
{
    struct tensor t[2 * SPEC_MAX_LAYERS];
    int n = model_tensors(m, t);
    uint64_t begin[2 * SPEC_MAX_LAYERS];
    for (int i = 0; i < n; i++) {
        json_t *entry = json_object_get(header, t[i].name);
        if (!entry)
            return err_set(e, EXIT_DATA, "%s: no tensor '%s' (the spec's model has %d tensors)", path, t[i].name, n);
        if (check_entry(path, entry, &t[i], data_len, &begin[i], e))
            return e->code;
        for (int j = 0; j < i; j++) /* safetensors forbids overlapping tensors */
            if (begin[i] < begin[j] + tensor_count(&t[j]) * sizeof(float) &&
                begin[j] < begin[i] + tensor_count(&t[i]) * sizeof(float))
                return err_set(e, EXIT_DATA, "%s: tensors '%s' and '%s' overlap in the data", path, t[j].name,
                               t[i].name);
    }
    const char *key;
    json_t *value;
    json_object_foreach(header, key, value) {
        bool known = !strcmp(key, "__metadata__");
        for (int i = 0; i < n && !known; i++)
            known = !strcmp(key, t[i].name);
        if (!known)
            return err_set(e, EXIT_DATA, "%s: tensor '%s' is not in the spec's model (another spec's checkpoint?)",
                           path, key);
    }
    for (int i = 0; i < n; i++) {
        size_t count = tensor_count(&t[i]);
        if (fseeko(f, (off_t)(data_start + begin[i]), SEEK_SET) ||
            fread(params + t[i].off, sizeof(float), count, f) != count)
            return err_set(e, EXIT_DATA, "%s: cannot read tensor '%s': %s", path, t[i].name,
                           ferror(f) ? strerror(errno) : "file ends early");
    }
    return 0;
}

int checkpoint_read(const char *path, const struct model *m, float *params, struct err *e)
{
    FILE *f = fopen_regular(path, "a model.safetensors from run --out", EXIT_DATA, e);
    if (!f)
        return e->code;
    char *text = NULL;
    json_t *header = NULL;
    unsigned char size_le[8];
    struct stat st;
    if (fstat(fileno(f), &st)) {
        err_set(e, EXIT_DATA, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    uint64_t file_len = (uint64_t)st.st_size;
    if (fread(size_le, 1, 8, f) != 8) {
        err_set(e, EXIT_DATA, "%s: %s", path,
                ferror(f) ? strerror(errno) : "not a safetensors file: shorter than its 8-byte header size");
        goto done;
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | size_le[i];
    if (header_len > HEADER_MAX || header_len > file_len - 8) {
        err_set(e, EXIT_DATA, "%s: not a safetensors file: header size %llu in a %llu-byte file", path,
                (unsigned long long)header_len, (unsigned long long)file_len);
        goto done;
    }
    if (!(text = malloc(header_len + 1))) {
        err_set(e, EXIT_RUNTIME, "out of memory: a %llu-byte checkpoint header", (unsigned long long)header_len);
        goto done;
    }
    if (fread(text, 1, header_len, f) != header_len) {
        err_set(e, EXIT_DATA, "%s: cannot read the %llu-byte header: %s", path, (unsigned long long)header_len,
                ferror(f) ? strerror(errno) : "file ends early");
        goto done;
    }
    json_error_t je;
    header = json_loadb(text, header_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(header)) {
        err_set(e, EXIT_DATA, "%s: header is not a JSON object: %s (column %d)", path,
                header ? "another JSON value" : je.text, je.column);
        goto done;
    }
    uint64_t data_start = 8 + header_len;
    read_tensors(path, f, header, data_start, file_len - data_start, m, params, e);
done:
    json_decref(header);
    free(text);
    fclose(f);
    return e->code;
}
