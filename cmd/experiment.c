#include <stdio.h>
#include <string.h>

#include "../data/open.h"
#include "cmd.h"

int experiment_open(struct experiment *x, const struct run_options *o, struct err *e)
{
    memset(x, 0, sizeof *x);
    if (spec_load(&x->spec, o->spec_path, o->sets, o->n_sets, e))
        return e->code;
    if (o->device) /* the flag gets the same check as the spec key */
        snprintf(x->spec.device, sizeof x->spec.device, "%s", o->device);
    if (dataset_open(&x->spec.data, x->spec.seed, &o->fetch, &x->data, e))
        return e->code;
    const struct dataset *tr = &x->data.train;
    if (spec_check_fit(&x->spec, (int)tr->d, tr->n_classes, tr->y_width, e))
        return e->code;
    x->be = backend_select(x->spec.device, x->spec.tf32, e);
    return e->code;
}

void experiment_close(struct experiment *x)
{
    if (x->be)
        x->be->destroy(x->be);
    data_split_free(&x->data);
    memset(x, 0, sizeof *x);
}
