#include "checkpoint.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int add_tensor(json_t *header, const char *name, size_t rows, size_t cols, size_t off, size_t count)
{
    json_t *shape = cols ? json_pack("[II]", (json_int_t)rows, (json_int_t)cols) : json_pack("[I]", (json_int_t)rows);
    json_t *t = json_pack("{s:s, s:o, s:[II]}", "dtype", "F32", "shape", shape, "data_offsets",
                          (json_int_t)(off * 4), (json_int_t)((off + count) * 4));
    return !t || json_object_set_new(header, name, t);
}

int checkpoint_write(FILE *f, const struct model *m, const float *params, struct err *e)
{
    json_t *header = json_object();
    int bad = !header;
    for (int i = 0; i < m->n_layers && !bad; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR)
            continue;
        char name[32];
        snprintf(name, sizeof name, "%d.weight", i);
        bad |= add_tensor(header, name, (size_t)l->out, (size_t)l->in, l->w_off, (size_t)l->out * l->in);
        if (l->bias) {
            snprintf(name, sizeof name, "%d.bias", i);
            bad |= add_tensor(header, name, (size_t)l->out, 0, l->b_off, (size_t)l->out);
        }
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
