#include "checkpoint.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int checkpoint_write_header(FILE *f, json_t *header, struct err *e)
{
    char *text = header ? json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(header);
    if (!text)
        return err_set(e, EXIT_RUNTIME, "cannot encode the safetensors header");
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char size_le[8];
    for (int i = 0; i < 8; i++)
        size_le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(size_le, 1, 8, f);
    fwrite(text, 1, len, f);
    for (size_t i = len; i < padded; i++)
        fputc(' ', f);
    free(text);
    return 0;
}

int checkpoint_write(FILE *f, const struct model *m, const float *params, struct err *e)
{
    json_t *header = json_object();
    int bad = !header;
    for (int i = 0; i < m->n_tensors && !bad; i++) {
        const struct param_tensor *t = &m->tensors[i];
        json_t *shape = t->cols ? json_pack("[II]", (json_int_t)t->rows, (json_int_t)t->cols)
                                : json_pack("[I]", (json_int_t)t->rows);
        json_t *entry = json_pack("{s:s, s:o, s:[II]}", "dtype", "F32", "shape", shape, "data_offsets",
                                  (json_int_t)(t->off * 4), (json_int_t)((t->off + tensor_count(t)) * 4));
        bad = !entry || json_object_set_new(header, t->name, entry);
    }
    /* The tensors lie in params in order, so data offsets are params offsets. */
    if (checkpoint_write_header(f, bad ? NULL : header, e)) {
        if (bad)
            json_decref(header);
        return e->code;
    }
    fwrite(params, sizeof(float), m->n_params, f); /* x86-64 and CUDA hosts are little-endian */
    return 0;
}

/* What does not fit, gathered for one message. */
struct mismatch {
    char missing[1024], shapes[1536], extra[1024], tied[512];
};

static void note(char *list, size_t cap, const char *fmt, const char *a, const char *b, const char *c)
{
    size_t used = strlen(list);
    if (used + 4 >= cap)
        return;
    if (used)
        used += (size_t)snprintf(list + used, cap - used, ", ");
    snprintf(list + used, cap - used, fmt, a, b, c);
}

static bool same_shape(const struct st_tensor *s, const struct param_tensor *t)
{
    return s->ndim == (t->cols ? 2 : 1) && s->shape[0] == t->rows && (!t->cols || s->shape[1] == t->cols);
}

/* The file's tensor for t under any of its names (a tied tensor may be
 * saved once or under every use); NULL when missing or misfit. */
static const struct st_tensor *match(const struct model *m, const struct param_tensor *t, const struct st_file *f,
                                     struct mismatch *x)
{
    const struct st_tensor *found = NULL;
    char name[sizeof t->name], have[128], need[64];
    bool misfit = false;
    for (int k = 0; model_tensor_alias(m, t, k, name, sizeof name); k++) {
        const struct st_tensor *s = safetensors_find(f, name);
        if (!s)
            continue;
        if (!same_shape(s, t)) {
            uint64_t want[2] = {t->rows, t->cols};
            safetensors_shape_text(have, sizeof have, s->shape, s->ndim);
            safetensors_shape_text(need, sizeof need, want, t->cols ? 2 : 1);
            note(x->shapes, sizeof x->shapes, "%s %s (the model's %s)", name, have, need);
            misfit = true;
        } else if (found && memcmp(found->data, s->data, s->count * sizeof(float))) {
            note(x->tied, sizeof x->tied, "%s and %s%s", found->name, name, "");
            misfit = true;
        } else {
            found = s;
        }
    }
    if (!found && !misfit)
        note(x->missing, sizeof x->missing, "%s%s%s", t->name, "", "");
    return misfit ? NULL : found;
}

static bool in_model(const struct model *m, const char *key)
{
    char name[sizeof m->tensors[0].name];
    for (int i = 0; i < m->n_tensors; i++)
        for (int k = 0; model_tensor_alias(m, &m->tensors[i], k, name, sizeof name); k++)
            if (!strcmp(name, key))
                return true;
    return false;
}

int checkpoint_read(const char *path, const struct model *m, float *params, struct err *e)
{
    struct st_file f;
    if (safetensors_load(&f, path, e))
        return e->code;
    struct mismatch *x = calloc(1, sizeof *x);
    const struct st_tensor **found = calloc((size_t)m->n_tensors + 1, sizeof *found);
    if (!x || !found) {
        err_set(e, EXIT_RUNTIME, "out of memory: matching %s", path);
        goto done;
    }
    for (int i = 0; i < m->n_tensors; i++)
        found[i] = match(m, &m->tensors[i], &f, x);
    for (int i = 0; i < f.n; i++)
        if (!in_model(m, f.tensors[i].name))
            note(x->extra, sizeof x->extra, "%s%s%s", f.tensors[i].name, "", "");
    const char *labels[] = {"missing ", "extra ", "shape of ", "tied names that differ: "};
    const char *lists[] = {x->missing, x->extra, x->shapes, x->tied};
    char what[3072] = "";
    for (int i = 0; i < 4; i++)
        if (lists[i][0]) {
            size_t used = strlen(what);
            snprintf(what + used, sizeof what - used, "%s%s%s", used ? "; " : "", labels[i], lists[i]);
        }
    if (what[0]) {
        err_set(e, EXIT_DATA, "%s: does not fit the spec's model (another spec's checkpoint?): %s", path, what);
        goto done;
    }
    for (int i = 0; i < m->n_tensors; i++)
        memcpy(params + m->tensors[i].off, found[i]->data, tensor_count(&m->tensors[i]) * sizeof(float));
done:
    free(found);
    free(x);
    safetensors_free(&f);
    return e->code;
}
