/* resume.safetensors: what `run --resume DIR` needs to continue a run
 * exactly: the parameters, the optimizer state (momentum or Adam's moments)
 * and the epoch reached, as flat F32 tensors, and, in the header's
 * __metadata__, the steps done of the next epoch ("step") with that
 * epoch's metric sums so far ("step_sums", C99 hex doubles: exact). The
 * step counter (Adam's t, the dropout masks) and the shuffles follow from
 * the position. A file without the metadata (written before a run could
 * stop between steps) is a state after a whole epoch. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/checkpoint.h"
#include "../core/report.h"
#include "../core/safetensors.h"
#include "../data/read_all.h"
#include "cmd.h"

int resume_snapshot(struct resume_state *r, const struct model *m, const struct train_position *at, struct err *e)
{
    size_t bytes = m->n_params * sizeof(float);
    if (!r->params && !(r->params = malloc(3 * (bytes ? bytes : 1))))
        return err_set(e, EXIT_RUNTIME, "out of memory: a resume state of %zu parameters", m->n_params);
    r->at = *at;
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

static json_t *position_metadata(const struct train_position *at)
{
    char step[32], sums[ACC_SLOTS * 32] = "";
    snprintf(step, sizeof step, "%ld", at->step);
    for (int i = 0; i < ACC_SLOTS; i++)
        snprintf(sums + strlen(sums), sizeof sums - strlen(sums), "%s%a", i ? " " : "", at->acc[i]);
    return json_pack("{s:s, s:s}", "step", step, "step_sums", sums);
}

int resume_write(FILE *f, const struct resume_state *r, size_t n, struct err *e)
{
    json_t *header = json_object();
    int bad = !header || json_object_set_new(header, "__metadata__", position_metadata(&r->at));
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
    float epoch = (float)r->at.epoch; /* exact: epochs are at most 10^6 */
    fwrite(r->params, sizeof(float), 3 * n, f);
    fwrite(&epoch, sizeof epoch, 1, f);
    return 0;
}

/* The metadata's step (0 <= step < steps, the spec's steps per epoch) and
 * sums into *at; absent: a whole epoch. */
static int read_position(const struct st_file *f, const char *path, long steps, struct train_position *at,
                         struct err *e)
{
    const char *step = safetensors_metadata(f, "step"), *sums = safetensors_metadata(f, "step_sums");
    if (!step && !sums)
        return 0;
    char *end;
    errno = 0;
    at->step = step ? strtol(step, &end, 10) : -1;
    if (!step || errno || end == step || *end || at->step < 0)
        return err_set(e, EXIT_DATA, "%s: __metadata__ step is not a step count", path);
    if (at->step >= steps)
        return err_set(e, EXIT_DATA,
                       "%s: it stopped after step %ld of an epoch, but this spec's epochs have %ld steps (were "
                       "data.batch_size or the data changed?)",
                       path, at->step, steps);
    const char *p = sums ? sums : "";
    for (int i = 0; i < ACC_SLOTS; i++, p = end) {
        at->acc[i] = strtod(p, &end);
        if (end == p || !isfinite(at->acc[i]))
            return err_set(e, EXIT_DATA, "%s: __metadata__ step_sums is not %d finite numbers", path, ACC_SLOTS);
    }
    if (*p)
        return err_set(e, EXIT_DATA, "%s: __metadata__ step_sums is not %d finite numbers", path, ACC_SLOTS);
    return 0;
}

int resume_load(const char *dir, struct model *m, long steps, struct train_position *at, struct err *e)
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
    *at = (struct train_position){0};
    float epoch = t[3]->data[0];
    if (!(epoch >= 0 && epoch <= 1000000 && epoch == (float)(int)epoch))
        err_set(e, EXIT_DATA, "%s: epoch %g is not a whole number of epochs", path, epoch);
    else if (!read_position(&f, path, steps, at, e)) {
        at->epoch = (int)epoch;
        float *dst[3] = {m->params, m->opt_m, m->opt_v};
        for (int i = 0; i < 3; i++)
            m->be->upload(m->be, dst[i], t[i]->data, m->n_params * sizeof(float));
    }
    safetensors_free(&f);
    return e->code;
}

/* The metrics of epochs 1..n that DIR/metrics.jsonl holds; lines after
 * them (epochs trained after the state was kept) are left out. */
int resume_read_metrics(const char *dir, int n, struct epoch_report *out, struct err *e)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/metrics.jsonl", dir) >= (int)sizeof path)
        return err_set(e, EXIT_USAGE, "--resume %s: the path is too long", dir);
    uint8_t *text = NULL;
    size_t len = 0;
    if (n > 0 && read_all(path, SIZE_MAX, "metrics file", &text, &len, e))
        return e->code;
    int got = 0;
    for (size_t at = 0; at < len && got < n;) {
        const char *start = (const char *)text + at, *nl = memchr(start, '\n', len - at);
        size_t line = nl ? (size_t)(nl - start) : len - at;
        if (report_epoch_from_json(&out[got], start, line) || out[got].epoch != got + 1)
            break;
        got++;
        at += line + 1;
    }
    free(text);
    if (got < n)
        return err_set(e, EXIT_DATA,
                       "%s: line %d is not the metrics of epoch %d, which the resume state follows: the "
                       "directory does not hold one run's outputs",
                       path, got + 1, got + 1);
    return 0;
}
