/* resume.safetensors: what `run --resume DIR` needs to continue a run
 * exactly: the parameters, the optimizer state (momentum or Adam's moments)
 * and the epoch reached, as flat F32 tensors, and, in the header's
 * __metadata__, the steps done of the next epoch ("step") with that
 * epoch's metric sums so far ("step_sums", C99 hex doubles: exact). With
 * early stopping, also its best epoch: "best_epoch", "best_value" and the
 * tensor "best_params". The
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

int resume_snapshot(struct resume_state *r, const struct model *m, const struct train_position *at,
                    const struct best_epoch *best, struct err *e)
{
    size_t n = m->n_params, bytes = n * sizeof(float);
    if (!r->params && !(r->params = malloc(4 * (bytes ? bytes : 1))))
        return err_set(e, EXIT_RUNTIME, "out of memory: a resume state of %zu parameters", n);
    r->at = *at;
    m->be->download(m->be, r->params, m->params, bytes);
    m->be->download(m->be, r->params + n, m->opt_m, bytes);
    m->be->download(m->be, r->params + 2 * n, m->opt_v, bytes);
    r->best = (struct best_epoch){0};
    if (best && best->epoch) {
        r->best = (struct best_epoch){best->epoch, best->value, r->params + 3 * n};
        memcpy(r->best.params, best->params, bytes);
    }
    return 0;
}

void resume_free(struct resume_state *r)
{
    free(r->params);
    r->params = NULL;
}

/* Tensors in file order: params, opt_m, opt_v (n each), epoch (1), and
 * with a best epoch best_params (n). */
static const char *const names[] = {"params", "opt_m", "opt_v", "epoch", "best_params"};

static json_t *state_metadata(const struct resume_state *r)
{
    char step[32], sums[ACC_SLOTS * 32] = "", best_epoch[32], best_value[32];
    snprintf(step, sizeof step, "%ld", r->at.step);
    for (int i = 0; i < ACC_SLOTS; i++)
        snprintf(sums + strlen(sums), sizeof sums - strlen(sums), "%s%a", i ? " " : "", r->at.acc[i]);
    json_t *meta = json_pack("{s:s, s:s}", "step", step, "step_sums", sums);
    if (meta && r->best.epoch) {
        snprintf(best_epoch, sizeof best_epoch, "%d", r->best.epoch);
        snprintf(best_value, sizeof best_value, "%a", r->best.value);
        if (json_object_set_new(meta, "best_epoch", json_string(best_epoch)) ||
            json_object_set_new(meta, "best_value", json_string(best_value))) {
            json_decref(meta);
            return NULL;
        }
    }
    return meta;
}

int resume_write(FILE *f, const struct resume_state *r, size_t n, struct err *e)
{
    json_t *header = json_object();
    int bad = !header || json_object_set_new(header, "__metadata__", state_metadata(r));
    size_t at = 0;
    for (int i = 0; i < (r->best.epoch ? 5 : 4) && !bad; i++) {
        size_t count = i == 3 ? 1 : n;
        json_t *entry = json_pack("{s:s, s:[I], s:[II]}", "dtype", "F32", "shape", (json_int_t)count, "data_offsets",
                                  (json_int_t)(at * 4), (json_int_t)((at + count) * 4));
        bad = !entry || json_object_set_new(header, names[i], entry);
        at += count;
    }
    if (checkpoint_write_header(f, bad ? NULL : header, e)) {
        if (bad)
            json_decref(header);
        return e->code;
    }
    float epoch = (float)r->at.epoch; /* exact: epochs are at most 10^6 */
    fwrite(r->params, sizeof(float), 3 * n, f);
    fwrite(&epoch, sizeof epoch, 1, f);
    if (r->best.epoch)
        fwrite(r->best.params, sizeof(float), n, f);
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

/* Early stopping's best epoch, when the state has one: into best (whose
 * params hold n floats). */
static int read_best(const struct st_file *f, const char *path, size_t n, struct best_epoch *best, struct err *e)
{
    const char *epoch = safetensors_metadata(f, "best_epoch"), *value = safetensors_metadata(f, "best_value");
    const struct st_tensor *params = safetensors_find(f, "best_params");
    if (!epoch && !value && !params)
        return 0;
    char *end_epoch = NULL, *end_value = NULL;
    long at = epoch ? strtol(epoch, &end_epoch, 10) : 0;
    double v = value ? strtod(value, &end_value) : NAN;
    if (!epoch || !value || !params || *end_epoch || end_epoch == epoch || at < 1 || at > 1000000 ||
        *end_value || end_value == value || !isfinite(v) || params->ndim != 1 || params->count != n)
        return err_set(e, EXIT_DATA,
                       "%s: early stopping's best epoch is not whole (best_epoch, best_value and best_params of "
                       "%zu values go together)",
                       path, n);
    best->epoch = (int)at;
    best->value = v;
    memcpy(best->params, params->data, n * sizeof *best->params);
    return 0;
}

int resume_load(const char *dir, struct model *m, long steps, struct train_position *at, struct best_epoch *best,
                struct err *e)
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
    else if (!read_position(&f, path, steps, at, e) && !(best && read_best(&f, path, m->n_params, best, e))) {
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
