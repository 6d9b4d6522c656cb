/* `d2ltrain fetch NAME... | --all` and `d2ltrain list`: the command-line face
 * of the data registry and cache (data/fetch.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/registry.h"
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
    "  -q, --quiet            print only the paths and errors\n";

static const char list_usage[] = "usage: d2ltrain list [--data-dir DIR]\n";

__attribute__((format(printf, 2, 0)))
static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "d2ltrain: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return EXIT_USAGE;
}

/* A whole non-negative number, or -1. */
static long parse_count(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v >= 0 && v <= INT_MAX) ? v : -1;
}

/* getopt_long found an unknown option or one missing its value. */
static int option_error(const char *usage, char **argv)
{
    return usage_error(usage, "bad or incomplete option '%s'", argv[optind - 1]);
}

struct fetch_args {
    struct fetch_options options;
    bool all;
};

static int parse_fetch_args(int argc, char **argv, struct fetch_args *a)
{
    enum { OPT_DATA_DIR = 256, OPT_MIRROR, OPT_MIRROR_ONLY, OPT_CACERT, OPT_RETRIES,
           OPT_CONNECT_TIMEOUT, OPT_LOW_SPEED_TIME, OPT_DEADLINE, OPT_MAX_BYTES, OPT_ALL, OPT_HELP };
    static const struct option long_options[] = {
        {"all", no_argument, NULL, OPT_ALL},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"mirror", required_argument, NULL, OPT_MIRROR},
        {"mirror-only", no_argument, NULL, OPT_MIRROR_ONLY},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"low-speed-time", required_argument, NULL, OPT_LOW_SPEED_TIME},
        {"deadline", required_argument, NULL, OPT_DEADLINE},
        {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
    };
    a->options = fetch_options_default();
    optind = 0; /* GNU: full re-initialisation, also of argument permutation */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "q", long_options, NULL)) != -1) {
        long v = 0;
        switch (opt) {
        case OPT_ALL: a->all = true; break;
        case OPT_DATA_DIR: a->options.data_dir = optarg; break;
        case OPT_MIRROR: a->options.mirror = optarg; break;
        case OPT_MIRROR_ONLY: a->options.mirror_only = true; break;
        case OPT_CACERT: a->options.cacert = optarg; break;
        case 'q': a->options.quiet = true; break;
        case OPT_HELP: fputs(fetch_usage, stdout); return -1;
        case OPT_MAX_BYTES: {
            char *end;
            errno = 0;
            long long n = strtoll(optarg, &end, 10);
            if (errno || !*optarg || *end || n <= 0)
                return usage_error(fetch_usage, "'%s' is not a valid number of bytes", optarg);
            a->options.max_bytes = n;
            break;
        }
        case OPT_RETRIES:
        case OPT_CONNECT_TIMEOUT:
        case OPT_LOW_SPEED_TIME:
        case OPT_DEADLINE:
            if ((v = parse_count(optarg)) < 0 || (opt != OPT_RETRIES && v == 0))
                return usage_error(fetch_usage, "'%s' is not a valid count", optarg);
            if (opt == OPT_RETRIES)
                a->options.max_retries = (int)v;
            else if (opt == OPT_CONNECT_TIMEOUT)
                a->options.connect_timeout_s = v;
            else if (opt == OPT_DEADLINE)
                a->options.deadline_s = v;
            else
                a->options.low_speed_time_s = v;
            break;
        default: return option_error(fetch_usage, argv);
        }
    }
    if (a->all == (optind < argc))
        return usage_error(fetch_usage, "%s", a->all ? "--all takes no dataset names"
                                                     : "name a dataset to fetch, or --all");
    return 0;
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

/* Fetches each file once (groups share files), printing verified paths on
 * stdout; carries on past a failure so one bad source does not block the
 * rest, and returns the first failure's code. */
static int fetch_files(const struct registry_file **files, int n, const struct fetch_options *o)
{
    int status = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen = seen || files[j] == files[i];
        if (seen)
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
    }
    return status;
}

int cmd_fetch(int argc, char **argv)
{
    struct fetch_args a = {0};
    int rc = parse_fetch_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    enum { MAX_NAMES = 64 };
    if (argc - optind > MAX_NAMES)
        return usage_error(fetch_usage, "at most %s dataset names at once", "64");
    const struct registry_file *files[MAX_NAMES * REGISTRY_MAX_FILES];
    int n_files = 0;
    size_t n_datasets = a.all ? registry_count() : (size_t)(argc - optind);
    /* Every name is checked before anything is downloaded. */
    for (size_t i = 0; i < n_datasets && i < MAX_NAMES; i++) {
        const struct registry_dataset *d = a.all ? registry_at(i) : registry_find(argv[optind + i]);
        if (!d)
            return unknown_dataset(argv[optind + i]);
        for (int j = 0; j < d->n_files; j++)
            files[n_files++] = d->files[j];
    }
    return fetch_files(files, n_files, &a.options);
}

static const char *status_word(enum cache_status s)
{
    return s == CACHE_OK ? "cached" : s == CACHE_CORRUPT ? "corrupt" : "missing";
}

int cmd_list(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct fetch_options o = fetch_options_default();
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        if (opt == 'd')
            o.data_dir = optarg;
        else if (opt == 'h') {
            fputs(list_usage, stdout);
            return 0;
        } else {
            return option_error(list_usage, argv);
        }
    }
    if (optind < argc)
        return usage_error(list_usage, "unexpected argument '%s'", argv[optind]);
    char dir[PATH_MAX];
    struct err e = {0};
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
            if (fetch_cache_status(f, &o, &status, &size, &e))
                return report_error(&e);
            char size_text[32] = "-";
            if (size >= 0)
                snprintf(size_text, sizeof size_text, "%lld", size);
            printf("%-20s %-28s %10s  %-40s  %s\n", d->name, f->name, size_text,
                   f->sources[0].sha1, status_word(status));
        }
    }
    return 0;
}
