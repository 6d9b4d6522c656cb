/* A sweep over the ranks of an MPI job: rank r trained points r, r + size,
 * ...; rank 0 receives each one's result (and, with --out, its parameters)
 * as a variable-size record and writes the run files of the points other
 * ranks trained, so that its output set is the one one process writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/comm.h"
#include "sweep.h"

/* A point's record: its result, its epoch reports, its parameters. */
static size_t record_bytes(const struct sweep_result *r)
{
    return sizeof *r + (size_t)r->n_epochs * sizeof *r->epochs + r->n_params * sizeof *r->params;
}

static char *pack(char *at, const struct sweep_result *r)
{
    memcpy(at, r, sizeof *r);
    at += sizeof *r;
    memcpy(at, r->epochs, (size_t)r->n_epochs * sizeof *r->epochs);
    at += (size_t)r->n_epochs * sizeof *r->epochs;
    if (r->n_params)
        memcpy(at, r->params, r->n_params * sizeof *r->params);
    return at + r->n_params * sizeof *r->params;
}

/* NULL when out of memory; the pointers sent are the sender's. */
static const char *unpack(struct sweep_result *r, const char *at, struct err *e)
{
    memcpy(r, at, sizeof *r);
    at += sizeof *r;
    size_t epochs = (size_t)r->n_epochs * sizeof *r->epochs, params = r->n_params * sizeof *r->params;
    r->epochs = malloc(epochs ? epochs : 1);
    r->params = params ? malloc(params) : NULL;
    if (!r->epochs || (params && !r->params)) {
        err_set(e, EXIT_RUNTIME, "rank 0: out of memory: a point's %zu bytes", epochs + params);
        return NULL;
    }
    memcpy(r->epochs, at, epochs);
    if (params)
        memcpy(r->params, at + epochs, params);
    return at + epochs + params;
}

/* Point i, trained by another rank, into rank 0's set: its model rebuilt
 * on this backend holds the parameters it sent (predictions.csv runs it).
 * A write that fails makes the point failed, as one process records it. */
static void write_received(const struct sweep_plan *p, const struct sweep *s, const struct sweep_output *out, int i,
                           struct sweep_result *r)
{
    const struct spec *spec = &p->specs[i];
    struct err e = {0};
    struct model m = {0};
    if (!model_build(&m, spec, p->be, (int)p->data[p->data_of[i]].train.d, spec->data.batch_size, &e)) {
        if (m.n_params != r->n_params)
            err_set(&e, EXIT_RUNTIME, "rank %d sent %zu parameters, the model has %zu", i % comm_size(),
                    r->n_params, m.n_params);
        else {
            p->be->upload(p->be, m.params, r->params, m.n_params * sizeof *r->params);
            sweep_write_point(p, s, out, i, &m, r->params, r, &e);
        }
    }
    model_free(&m);
    if (e.code) {
        r->finished = false;
        r->status = e.code;
        snprintf(r->error, sizeof r->error, "%s", e.msg);
    }
}

int sweep_gather(const struct sweep_plan *p, const struct sweep *s, const struct sweep_output *out,
                 struct sweep_result *results, struct err *e)
{
    int rank = comm_rank(), size = comm_size();
    size_t bytes = 0;
    for (int i = rank; i < s->n_points; i += size)
        bytes += record_bytes(&results[i]);
    char *mine = malloc(bytes ? bytes : 1), *all = NULL;
    size_t *counts = calloc((size_t)size, sizeof *counts);
    if (!e->code && (!mine || !counts))
        err_set(e, EXIT_RUNTIME, "rank %d: out of memory: %zu bytes of results", rank, bytes);
    /* agreed first, so that no rank waits in the gather for one that failed */
    if (comm_agree(e))
        goto done;
    char *at = mine;
    for (int i = rank; i < s->n_points; i += size)
        at = pack(at, &results[i]);
    if (comm_gatherv(mine, bytes, &all, counts, e) || rank != 0)
        goto done;
    const char *from = all + counts[0];
    for (int r = 1; r < size; r++)
        for (int i = r; i < s->n_points && from; i += size)
            from = unpack(&results[i], from, e);
    for (int i = 0; !e->code && i < s->n_points; i++)
        if (i % size && results[i].finished && out)
            write_received(p, s, out, i, &results[i]);
done:
    free(mine);
    free(all);
    free(counts);
    return e->code;
}
