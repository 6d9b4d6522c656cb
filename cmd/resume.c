/* resume.safetensors: what `run --resume DIR` needs to continue a run
 * exactly: the parameters, the optimizer state (momentum or Adam's moments)
 * and the epoch reached, as flat F32 tensors. The step counter (Adam's t,
 * the dropout masks) and the shuffles follow from the epoch. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../core/checkpoint.h"
#include "../core/safetensors.h"
#include "cmd.h"

int resume_snapshot(struct resume_state *r, const struct model *m, int epoch, struct err *e)
{
    size_t bytes = m->n_params * sizeof(float);
    if (!r->params && !(r->params = malloc(3 * (bytes ? bytes : 1))))
        return err_set(e, EXIT_RUNTIME, "out of memory: a resume state of %zu parameters", m->n_params);
    r->epoch = epoch;
    m->be->download(m->be, r->params, m->params, bytes);
    m->be->download(m->be, r->params + m->n_params, m->opt_m, bytes);
    m->be->download(m->be, r->params + 2 * m->n_params, m->opt_v, bytes);
    return 0;
}

void resume_free(struct resume_state *r)
{
    free(r->params);
    r->params = NULL;
}

/* Tensors in file order: params, opt_m, opt_v (n each), then epoch. */
static const char *const names[] = {"params", "opt_m", "opt_v", "epoch"};

int resume_write(FILE *f, const struct resume_state *r, size_t n, struct err *e)
{
    json_t *header = json_object();
    int bad = !header;
    for (int i = 0; i < 4 && !bad; i++) {
        size_t count = i < 3 ? n : 1, off = (size_t)i * n;
        json_t *entry = json_pack("{s:s, s:[I], s:[II]}", "dtype", "F32", "shape", (json_int_t)count, "data_offsets",
                                  (json_int_t)(off * 4), (json_int_t)((off + count) * 4));
        bad = !entry || json_object_set_new(header, names[i], entry);
    }
    if (checkpoint_write_header(f, bad ? NULL : header, e)) {
        if (bad)
            json_decref(header);
        return e->code;
    }
    float epoch = (float)r->epoch; /* exact: epochs are at most 10^6 */
    fwrite(r->params, sizeof(float), 3 * n, f);
    fwrite(&epoch, sizeof epoch, 1, f);
    return 0;
}

int resume_load(const char *dir, struct model *m, int *epoch, struct err *e)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/resume.safetensors", dir) >= (int)sizeof path)
        return err_set(e, EXIT_USAGE, "--resume %s: the path is too long", dir);
    struct st_file f;
    if (safetensors_load(&f, path, e))
        return e->code;
    const struct st_tensor *t[4];
    for (int i = 0; i < 4; i++) {
        size_t want = i < 3 ? m->n_params : 1;
        t[i] = safetensors_find(&f, names[i]);
        if (!t[i] || t[i]->ndim != 1 || t[i]->count != want) {
            err_set(e, EXIT_DATA, "%s: not a resume state of this spec's model (%s: want %zu values)", path, names[i],
                    want);
            safetensors_free(&f);
            return e->code;
        }
    }
    float *dst[3] = {m->params, m->opt_m, m->opt_v};
    for (int i = 0; i < 3; i++)
        m->be->upload(m->be, dst[i], t[i]->data, m->n_params * sizeof(float));
    float at = t[3]->data[0];
    safetensors_free(&f);
    if (!(at >= 1 && at <= 1000000 && at == (float)(int)at))
        return err_set(e, EXIT_DATA, "%s: epoch %g is not a whole number of epochs", path, at);
    *epoch = (int)at;
    return 0;
}
