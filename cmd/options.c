#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"
#include "cmd.h"

/* The value of `--name value` or `--name=value`; advances *i. An empty
 * value is refused: `--out ""` would mean the current directory. */
static const char *option_value(int argc, char **argv, int *i, const char *name, struct err *e)
{
    size_t len = strlen(name);
    const char *v = argv[*i][len] == '=' ? argv[*i] + len + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    if (!v)
        err_set(e, EXIT_USAGE, "%s needs a value", name);
    else if (!*v)
        err_set(e, EXIT_USAGE, "%s needs a value, got an empty one", name);
    return e->code ? NULL : v;
}

static bool is_option(const char *arg, const char *name)
{
    size_t len = strlen(name);
    return !strncmp(arg, name, len) && (arg[len] == '\0' || arg[len] == '=');
}

/* --threads N: a whole number 1..1024, nothing after it. */
static int parse_threads(const char *v, int *threads, struct err *e)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > 1024)
        return err_set(e, EXIT_USAGE, "--threads '%s': expected a whole number from 1 to 1024", v);
    *threads = (int)n;
    return 0;
}

static int parse(struct run_options *o, int argc, char **argv, const char *usage, unsigned takes, struct err *e)
{
    memset(o, 0, sizeof *o);
    o->fetch = fetch_options_default();
    static const char *const valued[] = {"--device", "--set", "--out", "--data-dir", "--cacert", "--mirror",
                                         "--checkpoint", "--init-from", "--freeze", "--threads", "--resume",
                                         "--images",     "-o"};
    bool options_ended = false; /* after "--" every argument is the spec, e.g. one named -x.yaml */
    for (int i = 1; i < argc && !e->code; i++) {
        const char *arg = argv[i];
        if (!options_ended && !strcmp(arg, "--")) {
            options_ended = true;
            continue;
        }
        if (!options_ended && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
            fputs(usage, stdout);
            return -1;
        }
        if (!options_ended && !strcmp(arg, "--quiet")) {
            o->fetch.quiet = true;
            continue;
        }
        if (!options_ended && !strcmp(arg, "--verbose") && (takes & TAKES_VERBOSE)) {
            o->verbose = true;
            continue;
        }
        if (!options_ended && !strcmp(arg, "--timing")) {
            o->timing = true;
            continue;
        }
        if (!strcmp(arg, "--print-model") && !(takes & TAKES_MODEL_OPTIONS))
            return err_set(e, EXIT_USAGE, "--print-model belongs to run (see --help)");
        if (!strcmp(arg, "--print-model")) {
            o->print_model = true;
            continue;
        }
        const char *name = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !options_ended; k++)
            if (is_option(arg, valued[k]))
                name = valued[k];
        if (!name) {
            if (arg[0] == '-' && !options_ended)
                return err_set(e, EXIT_USAGE, "unknown option '%s' (see --help)", arg);
            if (o->spec_path)
                return err_set(e, EXIT_USAGE, "one spec file only: got '%s' and '%s'", o->spec_path, arg);
            o->spec_path = arg;
            continue;
        }
        const char *v = option_value(argc, argv, &i, name, e);
        if (!v)
            break;
        if (!strcmp(name, "--device"))
            o->device = v;
        else if (!strcmp(name, "--out"))
            o->out_dir = v;
        else if (!strcmp(name, "--data-dir"))
            o->fetch.data_dir = v;
        else if (!strcmp(name, "--cacert"))
            o->fetch.cacert = v;
        else if (!strcmp(name, "--mirror"))
            o->fetch.mirror = v;
        else if (!strcmp(name, "--threads"))
            parse_threads(v, &o->threads, e);
        else if (!strcmp(name, "--checkpoint") && !(takes & TAKES_CHECKPOINT))
            return err_set(e, EXIT_USAGE, "--checkpoint belongs to predict (see --help)");
        else if (!strcmp(name, "--checkpoint"))
            o->checkpoint = v;
        else if ((!strcmp(name, "--init-from") || !strcmp(name, "--freeze") || !strcmp(name, "--resume")) &&
                 !(takes & TAKES_MODEL_OPTIONS))
            return err_set(e, EXIT_USAGE, "%s belongs to run (see --help)", name);
        else if (!strcmp(name, "--init-from"))
            o->init_from = v;
        else if (!strcmp(name, "--resume"))
            o->resume = v;
        else if (!strcmp(name, "--freeze") && o->n_freeze == MAX_SETS)
            return err_set(e, EXIT_USAGE, "at most %d --freeze options", MAX_SETS);
        else if (!strcmp(name, "--freeze"))
            o->freeze[o->n_freeze++] = v;
        else if ((!strcmp(name, "--images") || !strcmp(name, "-o")) && !(takes & TAKES_IMAGES))
            return err_set(e, EXIT_USAGE, "%s belongs to predict (see --help)", name);
        else if (!strcmp(name, "--images"))
            parse_image_count(v, &o->images, e);
        else if (!strcmp(name, "-o"))
            o->image_file = v;
        else if (o->n_sets == MAX_SETS)
            return err_set(e, EXIT_USAGE, "at most %d --set options", MAX_SETS);
        else
            o->sets[o->n_sets++] = v;
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
    fprintf(stderr, "d2ltrain: error: %s\n", e->msg);
    return e->code;
}
