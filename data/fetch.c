#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/dirs.h"
#include "../core/open_regular.h"
#include "download.h"
#include "hash.h"
#include "stamp.h"

#define URL_MAX 2048

/* One place a file can come from, with the hashes and size of what it
 * serves (size 0: not known, the download cap applies). */
struct candidate {
    char url[URL_MAX];
    const char *sha1, *sha256;
    long long size;
    const char *size_why; /* where the size comes from, for the message */
};

/* The limits of one file's download, from the options and the environment. */
struct limits {
    long deadline_s;
    long long max_bytes;
};

struct fetch_options fetch_options_default(void)
{
    return (struct fetch_options){
        .connect_timeout_s = FETCH_DEFAULT_CONNECT_TIMEOUT_S,
        .low_speed_time_s = FETCH_DEFAULT_LOW_SPEED_TIME_S,
        .max_retries = FETCH_DEFAULT_MAX_RETRIES,
    };
}

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

int fetch_data_dir(const struct fetch_options *o, char *dir, size_t dir_len, struct err *e)
{
    const char *chosen = o->data_dir && o->data_dir[0] ? o->data_dir : nonempty_env("D2L_DATA_DIR");
    const char *xdg = nonempty_env("XDG_CACHE_HOME"), *home = nonempty_env("HOME");
    int n;
    if (chosen)
        n = snprintf(dir, dir_len, "%s", chosen);
    else if (xdg && xdg[0] == '/') /* the XDG spec ignores relative paths */
        n = snprintf(dir, dir_len, "%s/d2ltrain", xdg);
    else if (home)
        n = snprintf(dir, dir_len, "%s/.cache/d2ltrain", home);
    else
        return err_set(e, EXIT_DATA, "no cache directory: set D2L_DATA_DIR or HOME, or pass --data-dir");
    if (n < 0 || (size_t)n >= dir_len)
        return err_set(e, EXIT_DATA, "cache directory path too long");
    return 0;
}

int fetch_sanitize_name(const char *name, char *out, size_t out_len, struct err *e)
{
    size_t n = strlen(name);
    if (n == 0 || n >= out_len || n > NAME_MAX - 5) /* room for ".part" */
        return err_set(e, EXIT_USAGE, "cache name '%s' is empty or too long", name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || (c == '.' && i > 0);
        out[i] = plain ? c : '_';
    }
    out[n] = '\0';
    return 0;
}

static int join(char *out, size_t len, const char *a, const char *b, const char *suffix, struct err *e)
{
    int n = snprintf(out, len, "%s%s%s%s", a, b ? "/" : "", b ? b : "", suffix);
    if (n < 0 || (size_t)n >= len)
        return err_set(e, EXIT_DATA, "path too long: %s/%s%s", a, b ? b : "", suffix);
    return 0;
}

/* The mirror named by the options or D2L_DATA_URL, tried first as base +
 * name; --mirror-only without a mirror is a usage error. */
static int add_mirror(const struct fetch_options *o, const char *name, const char *sha1,
                      const char *sha256, long long size, const char *size_why, struct candidate *c, int *n,
                      struct err *e)
{
    const char *base = o->mirror && o->mirror[0] ? o->mirror : nonempty_env("D2L_DATA_URL");
    if (!base)
        return o->mirror_only ? err_set(e, EXIT_USAGE, "--mirror-only needs a mirror: pass --mirror "
                                                       "URL or set D2L_DATA_URL")
                              : 0;
    const char *slash = base[strlen(base) - 1] == '/' ? "" : "/";
    int len = snprintf(c[*n].url, sizeof c[*n].url, "%s%s%s", base, slash, name);
    if (len < 0 || (size_t)len >= sizeof c[*n].url)
        return err_set(e, EXIT_USAGE, "mirror URL too long: %s", base);
    c[*n].sha1 = sha1;
    c[*n].sha256 = sha256;
    c[*n].size = size;
    c[*n].size_why = size_why;
    (*n)++;
    return 0;
}

/* A positive whole number from the environment; fallback when unset. */
static int env_limit(const char *name, long long fallback, long long *out, struct err *e)
{
    const char *v = nonempty_env(name);
    *out = fallback;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n <= 0)
        return err_set(e, EXIT_USAGE, "%s=%s: expected a positive whole number", name, v);
    *out = n;
    return 0;
}

static int resolve_limits(const struct fetch_options *o, struct limits *l, struct err *e)
{
    long long deadline = 0;
    if (env_limit("D2L_FETCH_DEADLINE", FETCH_DEFAULT_DEADLINE_S, &deadline, e) ||
        env_limit("D2L_FETCH_MAX_BYTES", FETCH_DEFAULT_MAX_BYTES, &l->max_bytes, e))
        return e->code;
    l->deadline_s = o->deadline_s > 0 ? o->deadline_s : deadline > LONG_MAX ? LONG_MAX : (long)deadline;
    if (o->max_bytes > 0)
        l->max_bytes = o->max_bytes;
    return 0;
}

static bool any_candidate_matches(const struct digests *d, const struct candidate *c, int n)
{
    for (int i = 0; i < n; i++)
        if (digests_match(d, c[i].sha1, c[i].sha256))
            return true;
    return false;
}

/* Whether the cached file at path matches one of the candidates: by its
 * stamp when the stamp still describes the file and names a candidate's
 * hash, else by hashing it, and then stamping it when it matches. */
static bool cached_matches(const char *path, const struct candidate *c, int n, struct err *e)
{
    struct stat st;
    struct digests d;
    int fd = open_regular(path, "a data file", EXIT_DATA, &st, e);
    if (fd < 0)
        return false;
    bool matches = stamp_read(path, &st, &d) && any_candidate_matches(&d, c, n), stampable = false;
    if (!matches && !stamp_hash_fd(fd, path, &st, &d, &stampable, e)) {
        matches = any_candidate_matches(&d, c, n);
        if (matches && stampable)
            stamp_write(path, &st, &d);
    }
    close(fd);
    return matches;
}

/* A cached file that verifies is used as it is. One that does not (corrupt,
 * or verified for another hash a spec named before) stays until a download
 * verifies and is renamed over it: a failed fetch never loses a file. */
static bool cached_verifies(const char *path, const char *name, const struct candidate *c, int n, bool say_why,
                            const struct fetch_options *o, struct err *e)
{
    if (access(path, F_OK) != 0)
        return false;
    if (cached_matches(path, c, n, e)) {
        if (!o->quiet)
            fprintf(stderr, "using cached %s\n", name);
        return true;
    }
    if (e->code)
        return false;
    /* The hash named is the one expected: the cached file's own would read as
     * the source's in the errors that may follow. */
    bool by_sha1 = c[0].sha1 && c[0].sha1[0];
    if (say_why && !o->quiet)
        fprintf(stderr, "d2ltrain: cached %s is not the expected file (%s %s); fetching it again (it stays until "
                        "the download verifies)\n",
                name, by_sha1 ? "sha1" : "sha256", by_sha1 ? c[0].sha1 : c[0].sha256);
    return false;
}

/* Makes the rename durable: the directory entry reaches the disk too. */
static int commit(const char *part, const char *path, const char *dir, struct err *e)
{
    if (rename(part, path) != 0)
        return err_set(e, EXIT_DATA, "cannot rename %s to %s: %s", part, path, strerror(errno));
    return sync_dir(dir, EXIT_DATA, e);
}

/* Tries the candidates in order; the error of a lone candidate is passed on
 * as is, several are listed one per line. */
static int fetch_candidates(const char *dir, const char *name, const struct candidate *c, int n,
                            const struct limits *l, const struct fetch_options *o, char *path, struct err *e)
{
    char part[PATH_MAX], failures[sizeof e->msg] = "";
    if (join(part, sizeof part, path, NULL, ".part", e))
        return e->code;
    for (int i = 0; i < n; i++) {
        struct err one = {0};
        bool sized = c[i].size > 0;
        struct download d = {
            .url = c[i].url, .sha1 = c[i].sha1, .sha256 = c[i].sha256, .part_path = part, .name = name,
            .max_bytes = sized ? c[i].size : l->max_bytes,
            .max_why = sized ? c[i].size_why : "the download cap: --max-bytes, D2L_FETCH_MAX_BYTES",
            .deadline_s = l->deadline_s,
        };
        if (download_verified(&d, o, &one) == 0 && commit(part, path, dir, &one) == 0) {
            if (!o->quiet) {
                struct stat st;
                long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
                fprintf(stderr, "fetched %s (%lld bytes) from %s\n", name, size, c[i].url);
            }
            return 0;
        }
        if (n == 1)
            return err_set(e, one.code, "%s", one.msg);
        if (!o->quiet && i + 1 < n)
            fprintf(stderr, "d2ltrain: %s; trying the next source\n", one.msg);
        size_t used = strlen(failures);
        snprintf(failures + used, sizeof failures - used, "\n  %.1000s", one.msg);
    }
    return err_set(e, EXIT_DATA, "cannot fetch %s from any of its %d sources:%s", name, n, failures);
}

/* The cache protocol around fetch_candidates: a verified file is used
 * without the lock (so a read-only cache works); otherwise mkdir -p, an
 * exclusive flock on NAME.lock (a second process waits, then finds the
 * verified file), and the fetch. */
static int fetch_into_cache(const char *name, const struct candidate *c, int n,
                            const struct fetch_options *o, char *path, size_t path_len, struct err *e)
{
    char dir[PATH_MAX], lock_path[PATH_MAX];
    struct limits l = {0};
    if (resolve_limits(o, &l, e) || fetch_data_dir(o, dir, sizeof dir, e) ||
        join(path, path_len, dir, name, "", e) || join(lock_path, sizeof lock_path, path, NULL, ".lock", e))
        return e->code;
    if (cached_verifies(path, name, c, n, false, o, e) || e->code || make_dirs(dir, 0755, EXIT_DATA, e))
        return e->code;
    /* O_NOFOLLOW: a link planted at NAME.lock never creates a file elsewhere */
    int lock = open(lock_path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (lock < 0)
        return err_set(e, EXIT_DATA, "cannot open lock %s: %s", lock_path,
                       errno == ELOOP ? "a symbolic link; remove it" : strerror(errno));
    int rc;
    while ((rc = flock(lock, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0)
        err_set(e, EXIT_DATA, "cannot lock %s: %s", lock_path, strerror(errno));
    else if (!cached_verifies(path, name, c, n, true, o, e) && !e->code)
        fetch_candidates(dir, name, c, n, &l, o, path, e);
    close(lock); /* releases the flock */
    return e->code;
}

int fetch_registry_file(const struct registry_file *f, const struct fetch_options *o, char *path,
                        size_t path_len, struct err *e)
{
    struct candidate c[REGISTRY_MAX_SOURCES + 1];
    int n = 0;
    static const char registry_size[] = "its size in the registry";
    if (add_mirror(o, f->name, f->sources[0].sha1, NULL, f->sources[0].size, registry_size, c, &n, e))
        return e->code;
    for (int i = 0; i < f->n_sources && !o->mirror_only; i++, n++) {
        snprintf(c[n].url, sizeof c[n].url, "%s", f->sources[i].url);
        c[n].sha1 = f->sources[i].sha1;
        c[n].sha256 = NULL;
        c[n].size = f->sources[i].size;
        c[n].size_why = registry_size;
    }
    if (fetch_into_cache(f->name, c, n, o, path, path_len, e) && strstr(e->msg, "resolve host")) {
        size_t used = strlen(e->msg); /* libcurl's "Could not resolve host": no network, say how to work without */
        snprintf(e->msg + used, sizeof e->msg - used,
                 "\nto work offline, copy the files into a directory and pass --mirror file:///DIR/ (or set "
                 "D2L_DATA_URL); `d2ltrain list` names each file with its SHA-1");
    }
    return e->code;
}

int fetch_dataset_file(const char *dataset, const char *file_name, const struct fetch_options *o,
                       char *path, size_t path_len, struct err *e)
{
    const struct registry_dataset *d = registry_find(dataset);
    if (!d) {
        const char *near = registry_suggest(dataset);
        return err_set(e, EXIT_USAGE, "unknown dataset '%s'%s%s%s", dataset,
                       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    const struct registry_file *f = registry_dataset_file(d, file_name);
    if (!f)
        return err_set(e, EXIT_USAGE, "dataset '%s' has no file '%s'", dataset, file_name);
    return fetch_registry_file(f, o, path, path_len, e);
}

static int check_hash_arg(const char *hex, size_t len, const char *what, struct err *e)
{
    if (hex && hex[0] && !hex_digest_valid(hex, len))
        return err_set(e, EXIT_USAGE, "%s '%s' is not %zu hex digits", what, hex, len);
    return 0;
}

int fetch_url(const char *url, const char *sha1, const char *sha256, long long size, const char *cache_name,
              const struct fetch_options *o, char *path, size_t path_len, struct err *e)
{
    static const char spec_size[] = "the size the spec gives";
    char name[NAME_MAX + 1];
    struct candidate c[2];
    int n = 0;
    if (!url || !url[0])
        return err_set(e, EXIT_USAGE, "no URL to fetch %s from", cache_name);
    if ((!sha1 || !sha1[0]) && (!sha256 || !sha256[0]))
        return err_set(e, EXIT_USAGE, "%s: a sha1 or sha256 is required to verify the download", url);
    if (check_hash_arg(sha1, SHA1_HEX_LEN, "sha1", e) || check_hash_arg(sha256, SHA256_HEX_LEN, "sha256", e) ||
        fetch_sanitize_name(cache_name, name, sizeof name, e) ||
        add_mirror(o, name, sha1, sha256, size, spec_size, c, &n, e))
        return e->code;
    if (!o->mirror_only) {
        if (snprintf(c[n].url, sizeof c[n].url, "%s", url) >= (int)sizeof c[n].url)
            return err_set(e, EXIT_USAGE, "URL too long: %.80s...", url);
        c[n].sha1 = sha1;
        c[n].sha256 = sha256;
        c[n].size = size;
        c[n].size_why = spec_size;
        n++;
    }
    return fetch_into_cache(name, c, n, o, path, path_len, e);
}

int fetch_cache_path(const struct registry_file *f, const struct fetch_options *o, char *path, size_t path_len,
                     struct err *e)
{
    char dir[PATH_MAX];
    if (fetch_data_dir(o, dir, sizeof dir, e))
        return e->code;
    return join(path, path_len, dir, f->name, "", e);
}

int fetch_cache_status(const struct registry_file *f, const struct fetch_options *o,
                       enum cache_status *status, long long *size, struct err *e)
{
    char path[PATH_MAX];
    struct stat st;
    *status = CACHE_MISSING;
    *size = -1;
    if (fetch_cache_path(f, o, path, sizeof path, e))
        return e->code;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : err_set(e, EXIT_DATA, "cannot stat %s: %s", path, strerror(errno));
    struct candidate c[REGISTRY_MAX_SOURCES];
    for (int i = 0; i < f->n_sources; i++)
        c[i] = (struct candidate){.sha1 = f->sources[i].sha1};
    bool ok = cached_matches(path, c, f->n_sources, e);
    if (e->code)
        return e->code;
    *size = (long long)st.st_size;
    *status = ok ? CACHE_OK : CACHE_CORRUPT;
    return 0;
}
