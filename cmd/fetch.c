/* `d2ltrain fetch NAME... | --all` and `d2ltrain list`: the command-line face
 * of the data registry and cache (data/fetch.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/cache_leftovers.h"
#include "../data/raw_cache.h"
#include "../data/registry.h"
#include "args.h"
#include "cmd.h"

static const char fetch_usage[] =
    "usage: d2ltrain fetch NAME... | --all [options]\n"
    "  --data-dir DIR         cache directory (default: D2L_DATA_DIR, $XDG_CACHE_HOME/d2ltrain,\n"
    "                         ~/.cache/d2ltrain)\n"
    "  --mirror URL           base URL tried first for every file (default: D2L_DATA_URL)\n"
    "  --mirror-only          never fall back to the registry's own sources\n"
    "  --cacert FILE          CA bundle for HTTPS (default: CURL_CA_BUNDLE, else the system's)\n"
    "  --retries N            retries after a transient failure (default 4)\n"
    "  --connect-timeout S    seconds to connect (default 30)\n"
    "  --low-speed-time S     abort a transfer stalled below 1 kB/s for S seconds (default 30)\n"
    "  --deadline S           give up on a file not done in S seconds, retries included\n"
    "                         (default: D2L_FETCH_DEADLINE, else 3600)\n"
    "  --max-bytes N          cut off a file of unknown size at N bytes (default:\n"
    "                         D2L_FETCH_MAX_BYTES, else 2 GiB); a registry file, or a spec's\n"
    "                         file with data.size, is cut off at its own size\n"
    "  -q, --quiet            print only the paths and errors\n"
    "Each file's stale temporaries (left by a killed writer; `d2ltrain list`) are removed.\n";

static const char list_usage[] =
    "usage: d2ltrain list [--data-dir DIR]\n"
    "  each registry file: cached, missing or corrupt, and a cached .gz's raw cache (its inflated\n"
    "  copy): raw cached, raw unverified (the next run writes it anew) or no raw cache; then the\n"
    "  temporaries NAME.PID writers left: live (the process exists), recent, or stale (removed\n"
    "  by the next write there or `d2ltrain fetch`)\n";

enum fetch_option {
    FETCH_ALL,
    FETCH_DATA_DIR,
    FETCH_MIRROR,
    FETCH_MIRROR_ONLY,
    FETCH_CACERT,
    FETCH_RETRIES,
    FETCH_CONNECT_TIMEOUT,
    FETCH_LOW_SPEED_TIME,
    FETCH_DEADLINE,
    FETCH_MAX_BYTES,
    FETCH_QUIET,
};

static const struct arg_option fetch_options[] = {
    {"--all", NULL, false, FETCH_ALL},
    {"--data-dir", NULL, true, FETCH_DATA_DIR},
    {"--mirror", NULL, true, FETCH_MIRROR},
    {"--mirror-only", NULL, false, FETCH_MIRROR_ONLY},
    {"--cacert", NULL, true, FETCH_CACERT},
    {"--retries", NULL, true, FETCH_RETRIES},
    {"--connect-timeout", NULL, true, FETCH_CONNECT_TIMEOUT},
    {"--low-speed-time", NULL, true, FETCH_LOW_SPEED_TIME},
    {"--deadline", NULL, true, FETCH_DEADLINE},
    {"--max-bytes", NULL, true, FETCH_MAX_BYTES},
    {"--quiet", "-q", false, FETCH_QUIET},
    {NULL},
};

enum { MAX_NAMES = 64 };

struct fetch_args {
    struct fetch_options options;
    bool all;
    const char *names[MAX_NAMES];
    int n_names;
};

/* One option of fetch and its value v (NULL for a flag). */
static int take_fetch_option(struct fetch_args *a, enum fetch_option id, const char *v, struct err *e)
{
    const char *name = fetch_options[id].name;
    long long n = 0;
    switch (id) {
    case FETCH_ALL:
        a->all = true;
        return 0;
    case FETCH_DATA_DIR:
        a->options.data_dir = v;
        return 0;
    case FETCH_MIRROR:
        a->options.mirror = v;
        return 0;
    case FETCH_MIRROR_ONLY:
        a->options.mirror_only = true;
        return 0;
    case FETCH_CACERT:
        a->options.cacert = v;
        return 0;
    case FETCH_QUIET:
        a->options.quiet = true;
        return 0;
    case FETCH_MAX_BYTES:
        if (args_whole_number(name, v, 1, LLONG_MAX, &n, e))
            return e->code;
        a->options.max_bytes = n;
        return 0;
    case FETCH_RETRIES:
        if (args_whole_number(name, v, 0, INT_MAX, &n, e))
            return e->code;
        a->options.max_retries = (int)n;
        return 0;
    case FETCH_CONNECT_TIMEOUT:
    case FETCH_LOW_SPEED_TIME:
    case FETCH_DEADLINE:
        if (args_whole_number(name, v, 1, INT_MAX, &n, e))
            return e->code;
        if (id == FETCH_CONNECT_TIMEOUT)
            a->options.connect_timeout_s = (long)n;
        else if (id == FETCH_DEADLINE)
            a->options.deadline_s = (long)n;
        else
            a->options.low_speed_time_s = (long)n;
        return 0;
    }
    return 0;
}

/* Returns -1 to go on, else the exit status: 0 after --help. */
static int parse_fetch_args(int argc, char **argv, struct fetch_args *a)
{
    struct err e = {0};
    a->options = fetch_options_default();
    struct args it = args_start(fetch_options, argc, argv);
    const char *v;
    for (int id; !e.code && (id = args_next(&it, &v, &e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(fetch_usage, stdout);
            return 0;
        }
        if (id == ARG_OPERAND && a->n_names == MAX_NAMES)
            err_set(&e, EXIT_USAGE, "at most %d dataset names at once", MAX_NAMES);
        else if (id == ARG_OPERAND)
            a->names[a->n_names++] = v;
        else if (id >= 0)
            take_fetch_option(a, (enum fetch_option)id, v, &e);
    }
    if (!e.code && a->all && a->n_names)
        err_set(&e, EXIT_USAGE, "--all takes no dataset names");
    else if (!e.code && !a->all && !a->n_names)
        err_set(&e, EXIT_USAGE, "name a dataset to fetch, or --all (see --help)");
    return e.code ? report_error(&e) : -1;
}

static int unknown_dataset(const char *name)
{
    const char *near = registry_suggest(name);
    fprintf(stderr, "d2ltrain: error: unknown dataset '%s'", name);
    if (near)
        fprintf(stderr, " (did you mean '%s'?)", near);
    fprintf(stderr, "; `d2ltrain list` shows them all\n");
    return EXIT_USAGE;
}

/* "2 h" and the like, for how long ago a leftover was last written. */
static void age_text(char *out, size_t len, long long s)
{
    long long a = s < 0 ? -s : s;
    const char *unit = a < 120 ? "s" : a < 7200 ? "min" : a < 172800 ? "h" : "d";
    long long n = a < 120 ? a : a < 7200 ? a / 60 : a < 172800 ? a / 3600 : a / 86400;
    snprintf(out, len, "%lld %s %s", n, unit, s < 0 ? "ahead (clocks differ)" : "ago");
}

/* What a leftover is and what becomes of it, in words. */
static void leftover_text(char *out, size_t len, const struct leftover *l)
{
    char age[64];
    age_text(age, sizeof age, l->age_s);
    switch (l->state) {
    case LEFTOVER_LIVE:
        snprintf(out, len, "live: process %ld exists", l->pid);
        return;
    case LEFTOVER_RECENT:
        snprintf(out, len, "recent: no process %ld, last written %s; stale after %d min", l->pid, age,
                 LEFTOVER_STALE_S / 60);
        return;
    case LEFTOVER_STALE:
        snprintf(out, len, "stale: no process %ld, last written %s", l->pid, age);
        return;
    }
}

static void say_removed(const struct leftover *l, void *ctx)
{
    (void)ctx;
    char text[256];
    leftover_text(text, sizeof text, l);
    fprintf(stderr, "removed %s (%lld bytes; %s)\n", l->name, l->size, text);
}

/* Whether files[i] came before (groups share files). */
static bool listed_before(const struct registry_file *const *files, int i)
{
    for (int j = 0; j < i; j++)
        if (files[j] == files[i])
            return true;
    return false;
}

/* Fetches each file once, printing verified paths on stdout; carries on
 * past a failure so one bad source does not block the rest, and returns
 * the first failure's code. Each file's stale leftovers go either way. */
static int fetch_files(const struct registry_file **files, int n, const struct fetch_options *o)
{
    int status = 0;
    for (int i = 0; i < n; i++) {
        if (listed_before(files, i))
            continue;
        char path[PATH_MAX];
        struct err e = {0};
        if (fetch_registry_file(files[i], o, path, sizeof path, &e) == 0) {
            printf("%s\n", path);
            fflush(stdout);
        } else {
            int code = report_error(&e);
            status = status ? status : code;
        }
        struct err no_path = {0};
        if (!fetch_cache_path(files[i], o, path, sizeof path, &no_path))
            cache_leftovers_sweep(path, o->quiet ? NULL : say_removed, NULL);
    }
    return status;
}

int cmd_fetch(int argc, char **argv)
{
    struct fetch_args a = {0};
    int rc = parse_fetch_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    const struct registry_file *files[MAX_NAMES * REGISTRY_MAX_FILES];
    int n_files = 0;
    size_t n_datasets = a.all ? registry_count() : (size_t)a.n_names;
    /* Every name is checked before anything is downloaded. */
    for (size_t i = 0; i < n_datasets && i < MAX_NAMES; i++) {
        const struct registry_dataset *d = a.all ? registry_at(i) : registry_find(a.names[i]);
        if (!d)
            return unknown_dataset(a.names[i]);
        for (int j = 0; j < d->n_files; j++)
            files[n_files++] = d->files[j];
    }
    return fetch_files(files, n_files, &a.options);
}

/* The file's state, and for a cached .gz its raw cache's. */
static const char *status_text(enum cache_status s, const char *path)
{
    switch (s) {
    case CACHE_MISSING:
        return "missing";
    case CACHE_CORRUPT:
        return "corrupt";
    case CACHE_OK:
        break;
    }
    char raw[PATH_MAX];
    if (raw_cache_path(raw, sizeof raw, path))
        return "cached";
    switch (raw_cache_state(path)) {
    case RAW_CACHE_ABSENT:
        return "cached, no raw cache";
    case RAW_CACHE_VERIFIED:
        return "cached, raw cached";
    case RAW_CACHE_UNVERIFIED:
        return "cached, raw unverified";
    }
    return "cached";
}

/* Whether registry file f is in no dataset before the i-th (groups share files). */
static bool first_in(const struct registry_file *f, size_t i)
{
    for (size_t k = 0; k < i; k++) {
        const struct registry_dataset *d = registry_at(k);
        for (int j = 0; j < d->n_files; j++)
            if (d->files[j] == f)
                return false;
    }
    return true;
}

static void print_leftover(const struct leftover *l, void *ctx)
{
    int *n = ctx;
    if ((*n)++ == 0)
        printf("leftover temporaries (a stale one goes at the next write there or `d2ltrain fetch`):\n");
    char text[256];
    leftover_text(text, sizeof text, l);
    printf("  %-40s %10lld bytes  %s\n", l->name, l->size, text);
}

int cmd_list(int argc, char **argv)
{
    static const struct arg_option list_options[] = {{"--data-dir", NULL, true, 0}, {NULL}};
    struct fetch_options o = fetch_options_default();
    struct err e = {0};
    struct args it = args_start(list_options, argc, argv);
    const char *v;
    for (int id; !e.code && (id = args_next(&it, &v, &e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(list_usage, stdout);
            return 0;
        }
        if (id == ARG_OPERAND)
            err_set(&e, EXIT_USAGE, "list takes no arguments, got '%s' (see --help)", v);
        else if (id == 0)
            o.data_dir = v;
    }
    if (e.code)
        return report_error(&e);
    char dir[PATH_MAX];
    if (fetch_data_dir(&o, dir, sizeof dir, &e))
        return report_error(&e);
    printf("cache: %s\n", dir);
    printf("%-20s %-28s %10s  %-40s  %s\n", "DATASET", "FILE", "SIZE", "SHA-1", "STATUS");
    for (size_t i = 0; i < registry_count(); i++) {
        const struct registry_dataset *d = registry_at(i);
        for (int j = 0; j < d->n_files; j++) {
            const struct registry_file *f = d->files[j];
            enum cache_status status;
            long long size;
            char path[PATH_MAX];
            if (fetch_cache_status(f, &o, &status, &size, &e) || fetch_cache_path(f, &o, path, sizeof path, &e))
                return report_error(&e);
            char size_text[32] = "-";
            if (size >= 0)
                snprintf(size_text, sizeof size_text, "%lld", size);
            printf("%-20s %-28s %10s  %-40s  %s\n", d->name, f->name, size_text,
                   f->sources[0].sha1, status_text(status, path));
        }
    }
    int n_leftovers = 0;
    for (size_t i = 0; i < registry_count(); i++) {
        const struct registry_dataset *d = registry_at(i);
        for (int j = 0; j < d->n_files; j++) {
            char path[PATH_MAX];
            if (first_in(d->files[j], i) && !fetch_cache_path(d->files[j], &o, path, sizeof path, &e))
                cache_leftovers_each(path, print_leftover, &n_leftovers);
        }
    }
    return 0;
}
