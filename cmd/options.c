#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "../core/comm.h"
#include "args.h"
#include "cmd.h"

enum run_option {
    OPT_DEVICE,
    OPT_SET,
    OPT_OUT,
    OPT_DATA_DIR,
    OPT_CACERT,
    OPT_MIRROR,
    OPT_CHECKPOINT,
    OPT_INIT_FROM,
    OPT_FREEZE,
    OPT_THREADS,
    OPT_QUIET,
    OPT_TIMING,
    OPT_PRINT_MODEL,
    OPT_RESUME,
    OPT_IMAGES,
    OPT_IMAGE_FILE,
    OPT_VERBOSE,
    OPT_DATA_PARALLEL,
    OPT_LOG_Y,
    OPT_LINEAR_Y,
    OPT_GRID,
    OPT_POINTS,
    OPT_RANK_BY,
};

static const struct arg_option run_options[] = {
    {"--device", NULL, true, OPT_DEVICE},
    {"--set", NULL, true, OPT_SET},
    {"--out", NULL, true, OPT_OUT},
    {"--data-dir", NULL, true, OPT_DATA_DIR},
    {"--cacert", NULL, true, OPT_CACERT},
    {"--mirror", NULL, true, OPT_MIRROR},
    {"--checkpoint", NULL, true, OPT_CHECKPOINT},
    {"--init-from", NULL, true, OPT_INIT_FROM},
    {"--freeze", NULL, true, OPT_FREEZE},
    {"--threads", NULL, true, OPT_THREADS},
    {"--quiet", "-q", false, OPT_QUIET},
    {"--timing", NULL, false, OPT_TIMING},
    {"--print-model", NULL, false, OPT_PRINT_MODEL},
    {"--resume", NULL, true, OPT_RESUME},
    {"--images", NULL, true, OPT_IMAGES},
    {"-o", NULL, true, OPT_IMAGE_FILE},
    {"--verbose", NULL, false, OPT_VERBOSE},
    {"--data-parallel", NULL, false, OPT_DATA_PARALLEL},
    {"--log-y", NULL, false, OPT_LOG_Y},
    {"--linear-y", NULL, false, OPT_LINEAR_Y},
    {"--grid", NULL, true, OPT_GRID},
    {"--points", NULL, true, OPT_POINTS},
    {"--rank-by", NULL, true, OPT_RANK_BY},
    {NULL},
};

/* One option of run, kfold or predict and its value v (NULL for a flag). */
static int take_option(struct run_options *o, enum run_option id, const char *v, unsigned takes, struct err *e)
{
    long long threads;
    switch (id) {
    case OPT_DEVICE:
        o->device = v;
        return 0;
    case OPT_SET:
        if (o->n_sets == MAX_SETS)
            return err_set(e, EXIT_USAGE, "at most %d --set options", MAX_SETS);
        o->sets[o->n_sets++] = v;
        return 0;
    case OPT_OUT:
        o->out_dir = v;
        return 0;
    case OPT_DATA_DIR:
        o->fetch.data_dir = v;
        return 0;
    case OPT_CACERT:
        o->fetch.cacert = v;
        return 0;
    case OPT_MIRROR:
        o->fetch.mirror = v;
        return 0;
    case OPT_CHECKPOINT:
        if (!(takes & TAKES_CHECKPOINT))
            return err_set(e, EXIT_USAGE, "--checkpoint belongs to predict (see --help)");
        o->checkpoint = v;
        return 0;
    case OPT_INIT_FROM:
    case OPT_FREEZE:
    case OPT_PRINT_MODEL:
    case OPT_RESUME:
    case OPT_DATA_PARALLEL:
        if (!(takes & TAKES_MODEL_OPTIONS))
            return err_set(e, EXIT_USAGE, "%s belongs to run (see --help)", run_options[id].name);
        if (id == OPT_INIT_FROM)
            o->init_from = v;
        else if (id == OPT_RESUME)
            o->resume = v;
        else if (id == OPT_PRINT_MODEL)
            o->print_model = true;
        else if (id == OPT_DATA_PARALLEL)
            o->data_parallel = true;
        else if (o->n_freeze == MAX_SETS)
            return err_set(e, EXIT_USAGE, "at most %d --freeze options", MAX_SETS);
        else
            o->freeze[o->n_freeze++] = v;
        return 0;
    case OPT_THREADS:
        if (args_whole_number("--threads", v, 1, 1024, &threads, e))
            return e->code;
        o->threads = (int)threads;
        return 0;
    case OPT_IMAGES:
    case OPT_IMAGE_FILE:
        if (!(takes & TAKES_IMAGES))
            return err_set(e, EXIT_USAGE, "%s belongs to predict (see --help)", run_options[id].name);
        if (id == OPT_IMAGES)
            return parse_image_count(v, &o->images, e);
        o->image_file = v;
        return 0;
    case OPT_VERBOSE:
        if (!(takes & TAKES_VERBOSE))
            return err_set(e, EXIT_USAGE, "--verbose belongs to kfold (see --help)");
        o->verbose = true;
        return 0;
    case OPT_LOG_Y:
    case OPT_LINEAR_Y:
        if (!(takes & TAKES_Y_SCALE))
            return err_set(e, EXIT_USAGE, "%s belongs to run, kfold, sweep and plot (see --help)", run_options[id].name);
        return y_scale_choose(&o->y_scale, id == OPT_LOG_Y ? Y_SCALE_LOG : Y_SCALE_LINEAR, e);
    case OPT_GRID:
    case OPT_POINTS:
    case OPT_RANK_BY:
        if (!(takes & TAKES_SWEEP))
            return err_set(e, EXIT_USAGE, "%s belongs to sweep (see --help)", run_options[id].name);
        if (id == OPT_POINTS)
            o->points_file = v;
        else if (id == OPT_RANK_BY)
            o->rank_by = v;
        else if (o->n_grids == MAX_SETS)
            return err_set(e, EXIT_USAGE, "at most %d --grid options", MAX_SETS);
        else
            o->grids[o->n_grids++] = v;
        return 0;
    case OPT_QUIET:
        o->fetch.quiet = true;
        return 0;
    case OPT_TIMING:
        o->timing = true;
        return 0;
    }
    return 0;
}

static int parse(struct run_options *o, int argc, char **argv, const char *usage, unsigned takes, struct err *e)
{
    memset(o, 0, sizeof *o);
    o->fetch = fetch_options_default();
    struct args a = args_start(run_options, argc, argv);
    const char *v;
    for (int id; !e->code && (id = args_next(&a, &v, e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(usage, stdout);
            return -1;
        }
        if (id == ARG_OPERAND && o->spec_path)
            err_set(e, EXIT_USAGE, "one spec file only: got '%s' and '%s'", o->spec_path, v);
        else if (id == ARG_OPERAND)
            o->spec_path = v;
        else if (id >= 0)
            take_option(o, (enum run_option)id, v, takes, e);
    }
    if (!o->threads)
        o->threads = cpu_threads_available();
    if (!e->code && !o->spec_path)
        err_set(e, EXIT_USAGE, "missing the spec file (see --help)");
    if (!e->code && !o->images != !o->image_file)
        err_set(e, EXIT_USAGE, "--images N and -o FILE.svg go together");
    return e->code;
}

int parse_run_options(struct run_options *o, int argc, char **argv, const char *usage, unsigned takes)
{
    double started = clock_seconds();
    struct err e = {0};
    int help = parse(o, argc, argv, usage, takes, &e) < 0;
    o->started = started;
    if (help)
        return 0;
    return e.code ? report_error(&e) : -1;
}

int report_error(const struct err *e)
{
    if (comm_size() > 1)
        fprintf(stderr, "d2ltrain: error: rank %d: %s\n", comm_rank(), e->msg);
    else
        fprintf(stderr, "d2ltrain: error: %s\n", e->msg);
    return e->code;
}
