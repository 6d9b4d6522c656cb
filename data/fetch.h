/* Fetching data files into the local cache: each file is downloaded (or
 * copied from a file:// source) to NAME.part, hashed while it streams, and
 * renamed to NAME only when its hash matches the source it came from. A
 * cached file whose hash matches is reused without any network access. */
#ifndef D2L_FETCH_H
#define D2L_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/error.h"
#include "registry.h"

struct fetch_options {
    const char *data_dir; /* NULL: D2L_DATA_DIR, else $XDG_CACHE_HOME/d2ltrain, else ~/.cache/d2ltrain */
    const char *cacert;   /* NULL: CURL_CA_BUNDLE or the system's CA store */
    const char *mirror;   /* base URL tried first (URL = base + file name); NULL: D2L_DATA_URL */
    bool mirror_only;     /* try only the mirror, never the registry's sources */
    bool quiet;           /* nothing on stderr but errors */
    long connect_timeout_s, low_speed_time_s; /* <= 0: the defaults below */
    long deadline_s;      /* each file's whole download, retries included; <= 0: D2L_FETCH_DEADLINE, else default */
    long long max_bytes;  /* a file without a known size; <= 0: D2L_FETCH_MAX_BYTES, else default */
    int max_retries;      /* retries after a transient failure (not the first try) */
};

#define FETCH_DEFAULT_CONNECT_TIMEOUT_S 30
#define FETCH_DEFAULT_LOW_SPEED_TIME_S 30
#define FETCH_DEFAULT_MAX_RETRIES 4
#define FETCH_DEFAULT_DEADLINE_S 3600           /* one hour per file */
#define FETCH_DEFAULT_MAX_BYTES (2LL << 30)     /* 2 GiB: a file of unknown size */

/* The options with every default filled in (all NULL pointers: environment). */
struct fetch_options fetch_options_default(void);

/* The cache directory the options select (not created). */
int fetch_data_dir(const struct fetch_options *o, char *dir, size_t dir_len, struct err *e);

/* Makes sure `file_name` of registry dataset `dataset` is cached and verified
 * and writes its path. An unknown dataset or file is EXIT_USAGE (with the
 * nearest name); a failed fetch EXIT_DATA. */
int fetch_dataset_file(const char *dataset, const char *file_name, const struct fetch_options *o,
                       char *path, size_t path_len, struct err *e);

/* The same for one registry file (the `fetch` command walks datasets). */
int fetch_registry_file(const struct registry_file *f, const struct fetch_options *o, char *path,
                        size_t path_len, struct err *e);

/* A file declared by URL and hash (a spec's own CSV): at least one of sha1 /
 * sha256 (NULL or "" = not given) must be given; every given one must match.
 * size > 0 is its size in bytes (a longer body is cut off); 0: the cap.
 * `cache_name` is sanitised to [A-Za-z0-9._-] with no leading dot, so it can
 * never name a path outside the cache. A mirror serves it under that name. */
int fetch_url(const char *url, const char *sha1, const char *sha256, long long size, const char *cache_name,
              const struct fetch_options *o, char *path, size_t path_len, struct err *e);

/* `name` with every byte outside [A-Za-z0-9._-] and a leading dot replaced
 * by '_'. */
int fetch_sanitize_name(const char *name, char *out, size_t out_len, struct err *e);

/* Where registry file f is (or would be) cached, whether there or not. */
int fetch_cache_path(const struct registry_file *f, const struct fetch_options *o, char *path, size_t path_len,
                     struct err *e);

enum cache_status {
    CACHE_MISSING,
    CACHE_OK,      /* the bytes match one of the file's sources */
    CACHE_CORRUPT, /* present, but no known hash matches */
};

/* The state of one registry file in the cache (hashing it when present);
 * *size is its size in bytes, or -1 when missing. */
int fetch_cache_status(const struct registry_file *f, const struct fetch_options *o,
                       enum cache_status *status, long long *size, struct err *e);

#endif
