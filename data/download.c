#include "download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hash.h"

#define BACKOFF_FIRST_S 0.2
#define BACKOFF_MAX_S 10.0
#define LOW_SPEED_LIMIT_BPS 1000L
#define MAX_REDIRECTS 10L

/* State of one transfer attempt, shared with libcurl's callbacks. */
struct transfer {
    CURL *curl;
    const struct download *d;
    FILE *part;          /* opened at the first byte, for appending */
    curl_off_t offset;   /* bytes of the part this attempt resumes after */
    long long written;   /* bytes this attempt added */
    long timeout_ms;     /* what is left of the download's deadline */
    struct hasher hasher;
    struct err err;      /* why a callback stopped the transfer */
    bool oversize;       /* the body passed d->max_bytes */
    bool progress;       /* draw a bar on stderr */
    curl_off_t dl_total, dl_now; /* as libcurl last reported them */
    double start_s, drawn_s;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The part for appending: created if missing, never through a symbolic
 * link, and only a regular file. */
static FILE *open_part(const struct download *d, struct err *e)
{
    int fd = open(d->part_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_set(e, EXIT_DATA, "cannot write %s: %s", d->part_path,
                fd < 0 && errno != ELOOP ? strerror(errno) : "not a regular file (a symbolic link?); remove it");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "ab");
    if (!f) {
        err_set(e, EXIT_DATA, "cannot write %s: %s", d->part_path, strerror(errno));
        close(fd);
    }
    return f;
}

static int oversize(const struct download *d, curl_off_t announced, struct err *e)
{
    if (announced > 0)
        return err_set(e, EXIT_DATA, "%s from %s is larger than %lld bytes (%s): the server announces %lld bytes",
                       d->name, d->url, d->max_bytes, d->max_why, (long long)announced);
    return err_set(e, EXIT_DATA, "%s from %s is larger than %lld bytes (%s); cut off", d->name, d->url,
                   d->max_bytes, d->max_why);
}

static size_t write_part(char *bytes, size_t size, size_t count, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * count;
    /* checked as the bytes arrive: file:// and chunked bodies announce no size */
    if ((long long)n > t->d->max_bytes - t->offset - t->written) {
        t->oversize = true;
        oversize(t->d, 0, &t->err);
        return 0;
    }
    if (!t->part && !(t->part = open_part(t->d, &t->err)))
        return 0;
    if (fwrite(bytes, 1, n, t->part) != n) {
        err_set(&t->err, EXIT_DATA, "cannot write %s: %s", t->d->part_path, strerror(errno));
        return 0;
    }
    if (hasher_update(&t->hasher, bytes, n, &t->err))
        return 0;
    t->written += (long long)n;
    return n;
}

static void format_bytes(char *out, size_t len, double bytes)
{
    static const char *units[] = {"B", "kB", "MB", "GB"};
    int u = 0;
    while (bytes >= 1000 && u < 3) {
        bytes /= 1000;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* One line of bar, size, rate and ETA, redrawn in place with \r. */
static void draw_bar(const struct transfer *t, double now)
{
    double done = (double)(t->offset + t->dl_now), total = (double)(t->offset + t->dl_total);
    double rate = (double)t->dl_now / (now - t->start_s > 1e-3 ? now - t->start_s : 1e-3);
    char got[32], speed[32];
    format_bytes(got, sizeof got, done);
    format_bytes(speed, sizeof speed, rate);
    if (t->dl_total <= 0) {
        fprintf(stderr, "\r%s %s %s/s   ", t->d->name, got, speed);
        return;
    }
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int filled = (int)(WIDTH * done / total);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %3.0f%% %s %s/s ETA %.0fs   ", t->d->name, bar, 100 * done / total,
            got, speed, eta);
}

/* libcurl's progress callback: at most ten redraws a second. */
static int on_progress(void *userdata, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
                       curl_off_t ul_now)
{
    struct transfer *t = userdata;
    double now = now_s();
    t->dl_total = dl_total;
    t->dl_now = dl_now;
    if (dl_now > 0 && now - t->drawn_s >= 0.1) {
        t->drawn_s = now;
        draw_bar(t, now);
    }
    return 0;
}

static const char *ca_bundle(const struct fetch_options *o)
{
    if (o->cacert && o->cacert[0])
        return o->cacert;
    const char *env = getenv("CURL_CA_BUNDLE");
    return env && env[0] ? env : NULL;
}

static long or_default(long value, long fallback)
{
    return value > 0 ? value : fallback;
}

/* Every option of one attempt. TLS peers and host names are always verified;
 * redirects may not lead to file:// (a server must not read our disk). */
static CURLcode configure(struct transfer *t, const struct fetch_options *o, char *errbuf)
{
    CURL *c = t->curl;
    const char *ca = ca_bundle(o);
    CURLcode rc;
    if ((rc = curl_easy_setopt(c, CURLOPT_URL, t->d->url)) ||
        (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file")) ||
        (rc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")) ||
        (rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS)) ||
        (rc = curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "d2ltrain")) ||
        (rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf)) ||
        (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L)) ||
        (ca && (rc = curl_easy_setopt(c, CURLOPT_CAINFO, ca))) ||
        (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                               or_default(o->connect_timeout_s, FETCH_DEFAULT_CONNECT_TIMEOUT_S))) ||
        (rc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_LIMIT_BPS)) ||
        (rc = curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                               or_default(o->low_speed_time_s, FETCH_DEFAULT_LOW_SPEED_TIME_S))) ||
        (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t->timeout_ms)) ||
        (rc = curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->d->max_bytes)) ||
        (rc = curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, t->offset)) ||
        (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_part)) ||
        (rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, t)) ||
        (rc = curl_easy_setopt(c, CURLOPT_NOPROGRESS, t->progress ? 0L : 1L)) ||
        (rc = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress)) ||
        (rc = curl_easy_setopt(c, CURLOPT_XFERINFODATA, t)))
        return rc;
    return CURLE_OK;
}

/* Flushes the part to disk; a part never written (an empty body) is created
 * so that a finished transfer always leaves a file to verify. */
static int close_part(struct transfer *t, bool finished, struct err *e)
{
    if (!t->part && finished && !(t->part = open_part(t->d, e)))
        return e->code;
    if (!t->part)
        return 0;
    bool ok = fflush(t->part) == 0 && fsync(fileno(t->part)) == 0;
    int saved = errno;
    ok = (fclose(t->part) == 0) && ok;
    t->part = NULL;
    if (!ok)
        return err_set(e, EXIT_DATA, "cannot write %s: %s", t->d->part_path, strerror(saved));
    return 0;
}

enum outcome {
    OUTCOME_DONE,      /* the whole body is in the part */
    OUTCOME_TRANSIENT, /* worth another try: connection, timeout, 5xx */
    OUTCOME_RESTART,   /* the part cannot be resumed (416, or 200 to a range): start over */
    OUTCOME_OVERSIZE,  /* longer than the file can be: the part is dropped */
    OUTCOME_FATAL,     /* another try would fail the same way */
};

static bool transient_curl_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static const char *http_reason(long status)
{
    switch (status) {
    case 403: return " (forbidden)";
    case 404: return " (not found)";
    case 416: return " (range not satisfiable)";
    case 500: return " (internal server error)";
    case 502: return " (bad gateway)";
    case 503: return " (service unavailable)";
    default: return "";
    }
}

/* Sorts a finished curl_easy_perform into an outcome; `why` says what went
 * wrong in words that name the URL. */
static enum outcome classify(struct transfer *t, CURLcode rc, const char *errbuf, char *why,
                             size_t why_len)
{
    const char *url = t->d->url;
    if (rc == CURLE_OK)
        return OUTCOME_DONE;
    if (rc == CURLE_FILESIZE_EXCEEDED) { /* the announced size is too large */
        curl_off_t announced = 0;
        if (curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) != CURLE_OK)
            announced = 0;
        oversize(t->d, announced, &t->err);
        t->oversize = true;
    }
    if (t->err.code) {
        snprintf(why, why_len, "%s", t->err.msg);
        return t->oversize ? OUTCOME_OVERSIZE : OUTCOME_FATAL;
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        long status = 0;
        if (curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        snprintf(why, why_len, "%s: HTTP %ld%s", url, status, http_reason(status));
        if (status == 416)
            return OUTCOME_RESTART;
        return status >= 500 || status == 408 || status == 429 ? OUTCOME_TRANSIENT : OUTCOME_FATAL;
    }
    snprintf(why, why_len, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    /* The server answered our range with the whole file, or the part left
     * by another download is longer than this file (file:// cannot resume). */
    if (rc == CURLE_RANGE_ERROR || rc == CURLE_BAD_DOWNLOAD_RESUME)
        return OUTCOME_RESTART;
    return transient_curl_error(rc) ? OUTCOME_TRANSIENT : OUTCOME_FATAL;
}

/* The bytes a part left by an earlier attempt holds (0 when there is none);
 * a part that is not a regular file is never read or written through. */
static int part_size(const struct download *d, long long *size, struct err *e)
{
    struct stat st;
    *size = 0;
    if (lstat(d->part_path, &st) != 0)
        return errno == ENOENT ? 0 : err_set(e, EXIT_DATA, "cannot stat %s: %s", d->part_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(e, EXIT_DATA, "%s: not a regular file (a symbolic link?); remove it", d->part_path);
    *size = (long long)st.st_size;
    return 0;
}

/* True when the part left by an earlier run is already the whole file. */
static bool part_verifies(const struct download *d, struct digests *got, struct err *e)
{
    return hash_file(d->part_path, got, e) == 0 && digests_match(got, d->sha1, d->sha256);
}

/* Starts the hash over the bytes the part already holds. */
static int start_hasher(struct transfer *t, struct err *e)
{
    if (hasher_init(&t->hasher, e))
        return e->code;
    if (t->offset > 0 && hasher_update_file(&t->hasher, t->d->part_path, e))
        hasher_free(&t->hasher);
    return e->code;
}

/* One libcurl handle per attempt: no option or error buffer outlives it. */
static enum outcome perform(struct transfer *t, const struct fetch_options *o, char *why,
                            size_t why_len)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    t->curl = curl_easy_init();
    if (!t->curl) {
        snprintf(why, why_len, "libcurl: cannot create a transfer handle");
        return OUTCOME_FATAL;
    }
    enum outcome out;
    CURLcode rc = configure(t, o, errbuf);
    if (rc != CURLE_OK) {
        snprintf(why, why_len, "libcurl: cannot set options for %s: %s", t->d->url,
                 curl_easy_strerror(rc));
        out = OUTCOME_FATAL;
    } else {
        t->start_s = now_s();
        rc = curl_easy_perform(t->curl);
        if (t->drawn_s > 0) { /* the final state, then leave the line */
            draw_bar(t, now_s());
            fputc('\n', stderr);
        }
        out = classify(t, rc, errbuf, why, why_len);
    }
    curl_easy_cleanup(t->curl);
    t->curl = NULL;
    return out;
}

/* One transfer into the part, resuming after what it already holds; on
 * OUTCOME_DONE *got holds the digests of the whole part. A part that is
 * already complete and verifies is not requested again. */
static enum outcome attempt(const struct download *d, const struct fetch_options *o, long timeout_ms,
                            struct digests *got, long long *resumed_from, char *why, size_t why_len)
{
    struct transfer t = {.d = d, .timeout_ms = timeout_ms, .progress = !o->quiet && isatty(2)};
    struct err e = {0};
    if (part_size(d, resumed_from, &e) == 0)
        t.offset = *resumed_from;
    if (!e.code && t.offset > 0 && part_verifies(d, got, &e))
        return OUTCOME_DONE;
    if (e.code || start_hasher(&t, &e)) {
        snprintf(why, why_len, "%s", e.msg);
        return OUTCOME_FATAL;
    }
    enum outcome out = perform(&t, o, why, why_len);
    if (close_part(&t, out == OUTCOME_DONE, &e) == 0 && out == OUTCOME_DONE)
        hasher_final(&t.hasher, got, &e);
    hasher_free(&t.hasher);
    if (e.code) {
        snprintf(why, why_len, "%s", e.msg);
        return OUTCOME_FATAL;
    }
    return out;
}

/* Names the first expected hash that differs, and the actual one. */
static int mismatch(const struct download *d, const struct digests *got, struct err *e)
{
    bool by_sha1 = d->sha1 && d->sha1[0] && strcasecmp(d->sha1, got->sha1) != 0;
    return err_set(e, EXIT_DATA,
                   "%s from %s does not verify: expected %s %s, got %s; the source may have "
                   "changed or a mirror serves other bytes; retry, or use --mirror / D2L_DATA_URL",
                   d->name, d->url, by_sha1 ? "sha1" : "sha256", by_sha1 ? d->sha1 : d->sha256,
                   by_sha1 ? got->sha1 : got->sha256);
}

static int remove_part(const struct download *d, struct err *e)
{
    if (unlink(d->part_path) != 0 && errno != ENOENT)
        return err_set(e, EXIT_DATA, "cannot remove %s: %s", d->part_path, strerror(errno));
    return 0;
}

static int download_with(const struct download *d, const struct fetch_options *o,
                         struct err *e)
{
    char why[sizeof e->msg] = "";
    bool restarted = false; /* once, when resumed bytes did not verify */
    double deadline = now_s() + (double)d->deadline_s;
    for (int tries = 0;;) {
        struct digests got;
        long long resumed_from = 0;
        long left_ms = (long)((deadline - now_s()) * 1e3);
        enum outcome out = attempt(d, o, left_ms > 1 ? left_ms : 1, &got, &resumed_from, why, sizeof why);
        if (out == OUTCOME_DONE) {
            if (digests_match(&got, d->sha1, d->sha256))
                return 0;
            if (remove_part(d, e))
                return e->code;
            /* The leftover part may have come from another source. */
            if (resumed_from > 0 && !restarted) {
                restarted = true;
                if (!o->quiet)
                    fprintf(stderr, "d2ltrain: resumed %s did not verify; downloading it again\n",
                            d->name);
                continue;
            }
            return mismatch(d, &got, e);
        }
        if (out == OUTCOME_FATAL)
            return err_set(e, EXIT_DATA, "%s", why);
        if (out == OUTCOME_OVERSIZE) {
            remove_part(d, e);
            return err_set(e, EXIT_DATA, "%s", why);
        }
        if (now_s() >= deadline)
            return err_set(e, EXIT_DATA,
                           "%s: not done within the deadline of %ld s (--deadline, D2L_FETCH_DEADLINE); "
                           "the part is kept and resumed next time",
                           why, d->deadline_s);
        /* Without the part there is no range to refuse: this happens once. */
        if (out == OUTCOME_RESTART) {
            if (remove_part(d, e))
                return e->code;
            if (!o->quiet)
                fprintf(stderr, "d2ltrain: %s; downloading %s from the start\n", why, d->name);
            continue;
        }
        if (tries >= (o->max_retries > 0 ? o->max_retries : 0))
            return err_set(e, EXIT_DATA, "%s (gave up after %d attempts)", why, tries + 1);
        double wait = BACKOFF_FIRST_S * (double)(1L << (tries < 20 ? tries : 20));
        wait = wait < BACKOFF_MAX_S ? wait : BACKOFF_MAX_S;
        wait = wait < deadline - now_s() ? wait : deadline - now_s();
        tries++;
        if (!o->quiet)
            fprintf(stderr, "d2ltrain: %s; retrying in %.1f s (%d of %d)\n", why, wait, tries,
                    o->max_retries);
        sleep_s(wait);
    }
}

int download_global_init(struct err *e)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return err_set(e, EXIT_DATA, "libcurl: cannot initialise: %s", curl_easy_strerror(rc));
    return 0;
}

void download_global_cleanup(void)
{
    curl_global_cleanup();
}

int download_verified(const struct download *d, const struct fetch_options *o, struct err *e)
{
    if (download_global_init(e))
        return e->code;
    download_with(d, o, e);
    download_global_cleanup();
    return e->code;
}
