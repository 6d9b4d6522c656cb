#include "spec_same.h"

#include <string.h>

static void clear_after_nul(char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    memset(s + len, 0, cap - len);
}

/* A copy with what may differ between two loads of one experiment zeroed:
 * marks, the path, bytes after a string's end, unused values. */
static void normalize(struct spec *out, const struct spec *in)
{
    memcpy(out, in, sizeof *out);
    memset(out->path, 0, sizeof out->path);
    out->data.at = (struct mark){0};
    out->loss.at = (struct mark){0};
    out->kfold.metric_at = (struct mark){0};
    out->train.lr_schedule.at = out->train.early_stop.at = (struct mark){0};
    for (int i = 0; i < SPEC_MAX_LAYERS; i++)
        out->layers[i].at = (struct mark){0};
    for (int i = 0; i < SPEC_MAX_ITEMS; i++)
        out->items[i].at = out->items[i].layer.at = (struct mark){0};
    for (int i = 0; i < SPEC_MAX_BLOCKS; i++)
        out->blocks[i].at = (struct mark){0};
    struct data_spec *d = &out->data;
    if (d->n_w >= 0 && d->n_w < SPEC_MAX_VALUES)
        memset(d->w + d->n_w, 0, (SPEC_MAX_VALUES - (size_t)d->n_w) * sizeof d->w[0]);
    char *const strings[] = {out->name, out->device, d->dataset, d->url, d->sha1, d->sha256, d->test_url,
                             d->test_sha1, d->test_sha256, d->preprocess.id_column, d->preprocess.label_column};
    const size_t caps[] = {sizeof out->name, sizeof out->device, sizeof d->dataset, sizeof d->url,
                           sizeof d->sha1, sizeof d->sha256, sizeof d->test_url, sizeof d->test_sha1,
                           sizeof d->test_sha256, sizeof d->preprocess.id_column,
                           sizeof d->preprocess.label_column};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        clear_after_nul(strings[i], caps[i]);
}

size_t spec_difference(const struct spec *a, const struct spec *b)
{
    static _Thread_local struct spec na, nb;
    normalize(&na, a);
    normalize(&nb, b);
    const unsigned char *pa = (const unsigned char *)&na, *pb = (const unsigned char *)&nb;
    for (size_t i = 0; i < sizeof na; i++)
        if (pa[i] != pb[i])
            return i + 1;
    return 0;
}
