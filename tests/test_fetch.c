/* Fetch, verify and cache against a real HTTP(S) server on 127.0.0.1
 * (scripts/test_server.py), one server per test case, started and stopped by
 * unchecked fixtures so that a failing test never leaves it behind. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../cmd/cmd.h"
#include "../data/fetch.h"
#include "../data/hash.h"
#include "../data/idx.h"
#include "../data/registry.h"
#include "../data/stamp.h"
#include "../data/temporary.h"

#define TRAIN_CSV "kaggle_house_pred_train.csv"
#define TRAIN_SHA1 "585e9cc93e70b39160e7921475f9bcd7d31219ce"
#define TEST_CSV "kaggle_house_pred_test.csv"
#define TEST_SHA256 "8fdd3d829d4d986b58f845c9553b225e67dd8383624d90fb6ca1d4bed5798c1e"

struct server {
    pid_t pid;
    int port;     /* 0: not running */
    int stdin_fd; /* closing it makes the server exit */
    FILE *out;
};

static struct server server;
static char root[256];           /* per test case: caches, certificate */
static char cert_path[PATH_MAX]; /* the HTTPS server's self-signed certificate */

static void repo_path(char *out, size_t len, const char *relative)
{
    const char *repo = getenv("D2L_ROOT");
    snprintf(out, len, "%s/%s", repo && repo[0] ? repo : ".", relative);
}

static void kaggle_dir(char *out, size_t len)
{
    repo_path(out, len, "../shared/data/kaggle_house");
}

/* pipe + fork + exec: the port comes back as the first stdout line. */
static void server_start(const char *tls_dir)
{
    char script[PATH_MAX], data[PATH_MAX];
    repo_path(script, sizeof script, "scripts/test_server.py");
    kaggle_dir(data, sizeof data);
    int to_server[2], from_server[2];
    server.port = 0;
    if (pipe2(to_server, O_CLOEXEC) != 0 || pipe2(from_server, O_CLOEXEC) != 0)
        return;
    server.pid = fork();
    if (server.pid == 0) {
        dup2(to_server[0], 0);
        dup2(from_server[1], 1);
        char *argv[] = {"python3", script, "--dir", data, "--exit-on-stdin-eof", "--lifetime", "120",
                        tls_dir ? "--tls-dir" : NULL, (char *)tls_dir, NULL};
        execvp("python3", argv);
        _exit(127);
    }
    close(to_server[0]);
    close(from_server[1]);
    server.stdin_fd = to_server[1];
    server.out = fdopen(from_server[0], "r");
    char line[32];
    if (server.pid > 0 && server.out && fgets(line, sizeof line, server.out))
        server.port = atoi(line);
}

static void server_stop(void)
{
    if (server.pid > 0) {
        close(server.stdin_fd);
        kill(server.pid, SIGTERM);
        waitpid(server.pid, NULL, 0);
    }
    if (server.out)
        fclose(server.out);
    server = (struct server){0};
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void make_root(void)
{
    snprintf(root, sizeof root, "%s/d2l-fetch-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
        root[0] = '\0';
}

static void setup_http(void)
{
    make_root();
    server_start(NULL);
}

static void setup_https(void)
{
    make_root();
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", root);
    server_start(root);
}

static void teardown(void)
{
    server_stop();
    if (root[0])
        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static size_t keep_bytes(char *bytes, size_t size, size_t n, void *out)
{
    size_t used = strlen(out), len = size * n;
    if (used + len >= 64)
        return 0;
    memcpy((char *)out + used, bytes, len);
    ((char *)out)[used + len] = '\0';
    return len;
}

/* The server's request counters (GET /__count is itself not counted). */
static void server_count(const char *scheme, long *requests, long *ranges)
{
    char url[128], body[64] = "";
    snprintf(url, sizeof url, "%s://127.0.0.1:%d/__count", scheme, server.port);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_URL, url), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_bytes), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_WRITEDATA, body), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_CAINFO, cert_path), CURLE_OK);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    ck_assert_int_eq(sscanf(body, "requests %ld ranges %ld", requests, ranges), 2);
}

static long requests_now(const char *scheme)
{
    long requests, ranges;
    server_count(scheme, &requests, &ranges);
    return requests;
}

/* Quick options for a loopback server: only the mirror, short timeouts. */
static struct fetch_options test_options(const char *data_dir, char *mirror, size_t mirror_len,
                                         const char *scheme, const char *modes)
{
    ck_assert_msg(server.port > 0, "the test server did not start");
    snprintf(mirror, mirror_len, "%s://127.0.0.1:%d/%s/", scheme, server.port, modes);
    struct fetch_options o = fetch_options_default();
    o.data_dir = data_dir;
    o.mirror = mirror;
    o.mirror_only = true;
    o.quiet = true;
    o.connect_timeout_s = 2;
    o.low_speed_time_s = 2;
    o.max_retries = 3;
    return o;
}

static void make_cache_dir(char *out, size_t len)
{
    snprintf(out, len, "%s/cache-XXXXXX", root);
    ck_assert_ptr_nonnull(mkdtemp(out));
}

static bool exists(const char *dir, const char *name, const char *suffix)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    return access(path, F_OK) == 0;
}

static void assert_sha1(const char *path, const char *sha1)
{
    struct digests d;
    struct err e = {0};
    ck_assert_int_eq(hash_file(path, &d, &e), 0);
    ck_assert_str_eq(d.sha1, sha1);
}

/* The cache holds the verified file, or nothing at all. */
static void assert_cache(const char *dir, const char *name, bool verified)
{
    ck_assert_int_eq(exists(dir, name, ""), verified);
    ck_assert(!exists(dir, name, ".part"));
}

static int fetch_train(const struct fetch_options *o, char *path, struct err *e)
{
    return fetch_dataset_file("kaggle_house_train", TRAIN_CSV, o, path, PATH_MAX, e);
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The first half of the training CSV, or (garbled) the same length of 'x'. */
static void write_half_part(const char *dir, bool garbled)
{
    char source[PATH_MAX], part[PATH_MAX];
    kaggle_dir(source, sizeof source);
    strcat(source, "/" TRAIN_CSV);
    snprintf(part, sizeof part, "%s/%s.part", dir, TRAIN_CSV);
    static char half[200000];
    FILE *f = fopen(source, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(half, 1, sizeof half, f), sizeof half);
    fclose(f);
    if (garbled)
        memset(half, 'x', sizeof half);
    write_file(part, half, sizeof half);
}

/* One fetch of the training CSV into a fresh cache, through the server's
 * fault modes ("500x2", "drop", ...: see scripts/test_server.py). Filled in
 * place: o.mirror points into it. */
struct fetch_case {
    const char *scheme;
    char dir[512], mirror[PATH_MAX + 8], path[PATH_MAX];
    struct fetch_options o;
    struct err e;
};

static void case_open(struct fetch_case *c, const char *scheme, const char *modes)
{
    c->scheme = scheme;
    make_cache_dir(c->dir, sizeof c->dir);
    c->o = test_options(c->dir, c->mirror, sizeof c->mirror, scheme, modes);
    c->e = (struct err){0};
}

/* Fetches the training CSV; returns the exit code and the requests and
 * Range requests the server saw meanwhile. */
static int case_fetch(struct fetch_case *c, long *requests, long *ranges)
{
    long requests_before, ranges_before;
    server_count(c->scheme, &requests_before, &ranges_before);
    c->e = (struct err){0};
    int rc = fetch_train(&c->o, c->path, &c->e);
    server_count(c->scheme, requests, ranges);
    *requests -= requests_before;
    *ranges -= ranges_before;
    return rc;
}

/* The fetch succeeds after `want_requests` requests and caches the
 * verified file. */
static void assert_fetched(struct fetch_case *c, long want_requests)
{
    long requests, ranges;
    ck_assert_msg(case_fetch(c, &requests, &ranges) == 0, "%s", c->e.msg);
    ck_assert_int_eq(requests, want_requests);
    assert_sha1(c->path, TRAIN_SHA1);
    assert_cache(c->dir, TRAIN_CSV, true);
}

/* The fetch fails with EXIT_DATA after `want_requests` requests, its
 * message naming `reason`, and caches nothing. */
static void assert_fetch_fails(struct fetch_case *c, long want_requests, const char *reason)
{
    long requests, ranges;
    ck_assert_int_eq(case_fetch(c, &requests, &ranges), EXIT_DATA);
    ck_assert_msg(strstr(c->e.msg, reason), "%s", c->e.msg);
    ck_assert_int_eq(requests, want_requests);
    assert_cache(c->dir, TRAIN_CSV, false);
}

START_TEST(test_fetch_verifies_then_reuses_cache_without_request)
{
    struct fetch_case c;
    case_open(&c, "http", "plain");
    assert_fetched(&c, 1);
    char expected[PATH_MAX];
    snprintf(expected, sizeof expected, "%s/%s", c.dir, TRAIN_CSV);
    ck_assert_str_eq(c.path, expected);
    assert_fetched(&c, 0);
}
END_TEST

START_TEST(test_corrupt_cached_file_is_fetched_again)
{
    struct fetch_case c;
    case_open(&c, "http", "corrupt");
    ck_assert_int_eq(fetch_train(&c.o, c.path, &c.e), 0);
    write_file(c.path, "not the csv\n", 12);
    enum cache_status status;
    long long size;
    const struct registry_file *f = registry_dataset_file(registry_find("kaggle_house_train"), TRAIN_CSV);
    ck_assert_int_eq(fetch_cache_status(f, &c.o, &status, &size, &c.e), 0);
    ck_assert_int_eq(status, CACHE_CORRUPT);
    ck_assert_int_eq(size, 12);

    assert_fetched(&c, 1);
    ck_assert_int_eq(fetch_cache_status(f, &c.o, &status, &size, &c.e), 0);
    ck_assert_int_eq(status, CACHE_OK);
    ck_assert_int_eq(size, 460676);
}
END_TEST

START_TEST(test_404_fails_at_once_naming_url_and_status)
{
    struct fetch_case c;
    case_open(&c, "http", "404");
    assert_fetch_fails(&c, 1, "HTTP 404"); /* one request: not retried */
    ck_assert_ptr_nonnull(strstr(c.e.msg, c.mirror));
}
END_TEST

START_TEST(test_500_gives_up_after_max_retries)
{
    struct fetch_case c;
    case_open(&c, "http", "giveup/500x2");
    c.o.max_retries = 1;
    assert_fetch_fails(&c, 2, "HTTP 500");
}
END_TEST

/* What an earlier, interrupted run left in the cache. */
enum part_left { NO_PART, HALF_PART, GARBLED_PART };

/* Fetches that succeed despite a fault, and the requests (Range requests
 * among them) each takes. */
static const struct recovery {
    const char *modes;
    enum part_left leftover;
    long requests, ranges;
} recoveries[] = {
    {"500x2", NO_PART, 3, 0},      /* retried until success */
    {"drop", NO_PART, 2, 1},       /* the dropped connection resumed with a range */
    {"leftover", HALF_PART, 1, 1}, /* the leftover part resumed */
    {"garbled", GARBLED_PART, 2, 1}, /* the resumed try, then all of it */
    {"norange", HALF_PART, 2, 1},  /* the refused range, then from zero */
    {"redirect3", NO_PART, 4, 0},  /* three redirects, then the file */
};

START_TEST(test_fetch_recovers_from_fault)
{
    const struct recovery *r = &recoveries[_i];
    struct fetch_case c;
    case_open(&c, "http", r->modes);
    if (r->leftover != NO_PART)
        write_half_part(c.dir, r->leftover == GARBLED_PART);
    long requests, ranges;
    ck_assert_msg(case_fetch(&c, &requests, &ranges) == 0, "%s: %s", r->modes, c.e.msg);
    ck_assert_msg(requests == r->requests, "%s: %ld requests, not %ld", r->modes, requests, r->requests);
    ck_assert_msg(ranges == r->ranges, "%s: %ld ranges, not %ld", r->modes, ranges, r->ranges);
    assert_sha1(c.path, TRAIN_SHA1);
    assert_cache(c.dir, TRAIN_CSV, true);
}
END_TEST

START_TEST(test_wrong_bytes_name_both_hashes_and_leave_nothing)
{
    struct fetch_case c;
    case_open(&c, "http", "wrong");
    /* What the server sends: the CSV with its middle byte inverted. */
    char source[PATH_MAX], wrong[PATH_MAX];
    kaggle_dir(source, sizeof source);
    strcat(source, "/" TRAIN_CSV);
    snprintf(wrong, sizeof wrong, "%s/wrong.csv", root);
    static unsigned char bytes[460676];
    FILE *f = fopen(source, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(bytes, 1, sizeof bytes, f), sizeof bytes);
    fclose(f);
    bytes[sizeof bytes / 2] ^= 0xFF;
    write_file(wrong, bytes, sizeof bytes);
    struct digests served;
    ck_assert_int_eq(hash_file(wrong, &served, &c.e), 0);

    assert_fetch_fails(&c, 1, TRAIN_SHA1);
    ck_assert_ptr_nonnull(strstr(c.e.msg, served.sha1));
    ck_assert_ptr_nonnull(strstr(c.e.msg, c.mirror));
}
END_TEST

START_TEST(test_stalled_server_times_out)
{
    struct fetch_case c;
    case_open(&c, "http", "slow");
    c.o.low_speed_time_s = 1;
    c.o.max_retries = 1;
    time_t start = time(NULL);
    ck_assert_int_eq(fetch_train(&c.o, c.path, &c.e), EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "too slow") && strstr(c.e.msg, "gave up after 2 attempts"), "%s", c.e.msg);
    ck_assert_int_lt(time(NULL) - start, 8);
    ck_assert(!exists(c.dir, TRAIN_CSV, ""));
}
END_TEST

START_TEST(test_file_url_mirror)
{
    struct fetch_case c;
    case_open(&c, "http", "unused");
    char data[PATH_MAX], real[PATH_MAX];
    kaggle_dir(data, sizeof data);
    ck_assert_ptr_nonnull(realpath(data, real));
    snprintf(c.mirror, sizeof c.mirror, "file://%s", real); /* no trailing slash: one is added */
    assert_fetched(&c, 0);
}
END_TEST

START_TEST(test_mirror_from_environment)
{
    struct fetch_case c;
    case_open(&c, "http", "env");
    c.o.mirror = NULL;
    ck_assert_int_eq(fetch_train(&c.o, c.path, &c.e), EXIT_USAGE); /* --mirror-only, no mirror */
    ck_assert_int_eq(setenv("D2L_DATA_URL", c.mirror, 1), 0);
    long requests, ranges;
    int rc = case_fetch(&c, &requests, &ranges);
    unsetenv("D2L_DATA_URL");
    ck_assert_msg(rc == 0, "%s", c.e.msg);
    ck_assert_int_eq(requests, 1);
}
END_TEST

START_TEST(test_concurrent_fetches_share_one_download)
{
    char dir[512], mirror[256], path[PATH_MAX];
    make_cache_dir(dir, sizeof dir);
    struct fetch_options o = test_options(dir, mirror, sizeof mirror, "http", "trickle");
    long before = requests_now("http");
    pid_t children[2];
    for (int i = 0; i < 2; i++) {
        children[i] = fork();
        ck_assert_int_ge(children[i], 0);
        if (children[i] == 0) {
            struct err e = {0};
            _exit(fetch_train(&o, path, &e));
        }
    }
    for (int i = 0; i < 2; i++) {
        int status;
        ck_assert_int_eq(waitpid(children[i], &status, 0), children[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(requests_now("http"), before + 1); /* the second waited, then reused */
    snprintf(path, sizeof path, "%s/%s", dir, TRAIN_CSV);
    assert_sha1(path, TRAIN_SHA1);
    assert_cache(dir, TRAIN_CSV, true);
}
END_TEST

START_TEST(test_fetch_url_sanitises_cache_name)
{
    char dir[512], mirror[256], url[256], path[PATH_MAX], expected[PATH_MAX];
    make_cache_dir(dir, sizeof dir);
    struct fetch_options o = test_options(dir, mirror, sizeof mirror, "http", "url");
    o.mirror_only = false;
    o.mirror = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/url/%s", server.port, TEST_CSV);
    struct err e = {0};
    ck_assert_msg(fetch_url(url, NULL, TEST_SHA256, 0, "../up/.x", &o, path, sizeof path, &e) == 0, "%s",
                  e.msg);
    snprintf(expected, sizeof expected, "%s/_._up_.x", dir);
    ck_assert_str_eq(path, expected);
    ck_assert(access(path, F_OK) == 0);

    /* A wrong sha256 is named next to the actual one. */
    const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(fetch_url(url, "", zeros, 0, "other", &o, path, sizeof path, &e), EXIT_DATA);
    ck_assert_ptr_nonnull(strstr(e.msg, zeros));
    ck_assert_ptr_nonnull(strstr(e.msg, TEST_SHA256));
    assert_cache(dir, "other", false);

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(fetch_url(url, NULL, NULL, 0, "none", &o, path, sizeof path, &e), EXIT_USAGE);
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(fetch_url(url, "abc", NULL, 0, "none", &o, path, sizeof path, &e), EXIT_USAGE);
}
END_TEST

/* The commands' messages are by design; the test log does not need them. */
static void silence(int saved[2])
{
    fflush(stdout);
    fflush(stderr);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(null, 0);
    saved[0] = dup(1);
    saved[1] = dup(2);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
}

static void unsilence(const int saved[2])
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    close(saved[0]);
    close(saved[1]);
}

START_TEST(test_fetch_command_exit_codes)
{
    int saved[2];
    silence(saved);
    char dir[512], mirror[256];
    make_cache_dir(dir, sizeof dir);
    test_options(dir, mirror, sizeof mirror, "http", "cmd");
    char *ok[] = {"fetch", "kaggle_house", "--data-dir", dir, "--mirror", mirror, "--mirror-only",
                  "-q", NULL};
    ck_assert_int_eq(cmd_fetch(8, ok), 0);
    ck_assert(exists(dir, TRAIN_CSV, "") && exists(dir, TEST_CSV, ""));
    char *typo[] = {"fetch", "kaggle_hose_train", "--data-dir", dir, NULL};
    ck_assert_int_eq(cmd_fetch(4, typo), EXIT_USAGE);
    char *flag[] = {"fetch", "kaggle_house", "--no-such-flag", NULL};
    ck_assert_int_eq(cmd_fetch(3, flag), EXIT_USAGE);
    char *nothing[] = {"fetch", NULL};
    ck_assert_int_eq(cmd_fetch(1, nothing), EXIT_USAGE);
    char *missing[] = {"fetch", "kaggle_house", "--data-dir", dir, "--mirror", mirror, "--mirror-only",
                       "-q", "--retries", "0", NULL};
    missing[5] = "http://127.0.0.1:1/"; /* nothing listens on port 1 */
    char cached_test[PATH_MAX];
    snprintf(cached_test, sizeof cached_test, "%s/%s", dir, TEST_CSV);
    ck_assert_int_eq(unlink(cached_test), 0);
    ck_assert_int_eq(cmd_fetch(10, missing), EXIT_DATA);
    char *list[] = {"list", "--data-dir", dir, NULL};
    ck_assert_int_eq(cmd_list(3, list), 0);
    char *list_extra[] = {"list", "fashion_mnist", NULL};
    ck_assert_int_eq(cmd_list(2, list_extra), EXIT_USAGE);
    unsilence(saved);
}
END_TEST

START_TEST(test_https_verifies_peer)
{
    struct fetch_case c;
    case_open(&c, "https", "tls");
    unsetenv("CURL_CA_BUNDLE");
    assert_fetch_fails(&c, 0, "certificate"); /* refused before any request */

    c.o.cacert = cert_path;
    assert_fetched(&c, 1);
}
END_TEST

START_TEST(test_https_ca_bundle_from_environment)
{
    struct fetch_case c;
    case_open(&c, "https", "tls-env");
    ck_assert_int_eq(setenv("CURL_CA_BUNDLE", cert_path, 1), 0);
    long requests, ranges;
    int rc = case_fetch(&c, &requests, &ranges);
    unsetenv("CURL_CA_BUNDLE");
    ck_assert_msg(rc == 0, "%s", c.e.msg);
    assert_sha1(c.path, TRAIN_SHA1);
}
END_TEST

START_TEST(test_registry_entries_and_suggestions)
{
    const struct registry_dataset *group = registry_find("kaggle_house");
    ck_assert_ptr_nonnull(group);
    ck_assert_int_eq(group->n_files, 2);
    ck_assert_str_eq(registry_find("kaggle_house_train")->files[0]->sources[0].sha1, TRAIN_SHA1);
    ck_assert_int_eq(registry_find("fashion_mnist")->n_files, 4);
    ck_assert_ptr_null(registry_find("kaggle"));
    for (size_t i = 0; i < registry_count(); i++)
        for (int j = 0; j < registry_at(i)->n_files; j++) {
            const struct registry_file *f = registry_at(i)->files[j];
            ck_assert_int_gt(f->n_sources, 0);
            for (int k = 0; k < f->n_sources; k++)
                ck_assert(hex_digest_valid(f->sources[k].sha1, SHA1_HEX_LEN));
        }
    ck_assert_str_eq(registry_suggest("fashoin_mnist"), "fashion_mnist");
    ck_assert_str_eq(registry_suggest("kaggle_house_tset"), "kaggle_house_test");
    ck_assert_ptr_null(registry_suggest("imagenet"));

    struct err e = {0};
    char path[PATH_MAX];
    struct fetch_options o = fetch_options_default();
    ck_assert_int_eq(fetch_dataset_file("fashion_mnst", "x", &o, path, sizeof path, &e), EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "did you mean 'fashion_mnist'"));
}
END_TEST

START_TEST(test_sanitize_and_data_dir_rules)
{
    char out[64], dir[PATH_MAX];
    struct err e = {0};
    ck_assert_int_eq(fetch_sanitize_name(".hidden/../a b", out, sizeof out, &e), 0);
    ck_assert_str_eq(out, "_hidden_.._a_b");
    ck_assert_int_eq(fetch_sanitize_name("", out, sizeof out, &e), EXIT_USAGE);

    struct fetch_options o = fetch_options_default();
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("D2L_DATA_DIR", "/d2l/data", 1);
    ck_assert_int_eq(fetch_data_dir(&o, dir, sizeof dir, &e), 0);
    ck_assert_str_eq(dir, "/d2l/data");
    unsetenv("D2L_DATA_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    ck_assert_int_eq(fetch_data_dir(&o, dir, sizeof dir, &e), 0);
    ck_assert_str_eq(dir, "/xdg/d2ltrain");
    setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the XDG spec says */
    setenv("HOME", "/home/u", 1);
    ck_assert_int_eq(fetch_data_dir(&o, dir, sizeof dir, &e), 0);
    ck_assert_str_eq(dir, "/home/u/.cache/d2ltrain");
    unsetenv("XDG_CACHE_HOME");
    if (home)
        setenv("HOME", home, 1);
    free(home);
    o.data_dir = "/flag";
    ck_assert_int_eq(fetch_data_dir(&o, dir, sizeof dir, &e), 0);
    ck_assert_str_eq(dir, "/flag");
}
END_TEST

/* The registry's first fashion_mnist source is Debian's local copy. */
START_TEST(test_fashion_mnist_from_debian_copy)
{
    if (access("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", R_OK) != 0)
        return; /* dataset-fashion-mnist is not installed */
    char dir[512], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/debian/nested", root); /* created with mkdir -p */
    struct fetch_options o = fetch_options_default();
    o.data_dir = dir;
    o.quiet = true;
    struct err e = {0};
    ck_assert_msg(fetch_dataset_file("fashion_mnist", "t10k-labels-idx1-ubyte.gz", &o, path,
                                     sizeof path, &e) == 0, "%s", e.msg);
    assert_sha1(path, "9317cfa0b855692f9538dd9e8821f97222088aa9");
}
END_TEST

/* A symbolic link planted in the cache is never written through. */
START_TEST(test_planted_links_are_not_followed)
{
    struct fetch_case c;
    case_open(&c, "http", "links");
    char victim[PATH_MAX], link_path[PATH_MAX], outside[PATH_MAX];
    snprintf(victim, sizeof victim, "%s/victim", root);
    write_file(victim, "precious\n", 9);
    snprintf(link_path, sizeof link_path, "%s/%s.part", c.dir, TRAIN_CSV);
    ck_assert_int_eq(symlink(victim, link_path), 0);
    long requests, ranges;
    ck_assert_int_eq(case_fetch(&c, &requests, &ranges), EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "not a regular file"), "%s", c.e.msg);
    assert_sha1(victim, "e101b916f4964ddeb46a171f0b7cd177b58543de"); /* "precious\n", untouched */
    ck_assert_int_eq(requests, 0);

    /* NAME.lock pointing outside the cache: nothing is created there */
    ck_assert_int_eq(unlink(link_path), 0);
    snprintf(outside, sizeof outside, "%s/created-outside", root);
    snprintf(link_path, sizeof link_path, "%s/%s.lock", c.dir, TRAIN_CSV);
    ck_assert_int_eq(unlink(link_path), 0); /* the empty lock file the first try made */
    ck_assert_int_eq(symlink(outside, link_path), 0);
    ck_assert_int_eq(case_fetch(&c, &requests, &ranges), EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, ".lock"), "%s", c.e.msg);
    ck_assert_int_eq(access(outside, F_OK), -1);
    assert_cache(c.dir, TRAIN_CSV, false);
}
END_TEST

/* A FIFO where the cached file belongs is refused at once, not waited on. */
START_TEST(test_fifo_in_cache_is_refused)
{
    struct fetch_case c;
    case_open(&c, "http", "fifo");
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof fifo, "%s/%s", c.dir, TRAIN_CSV);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    time_t start = time(NULL);
    long requests, ranges;
    ck_assert_int_eq(case_fetch(&c, &requests, &ranges), EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "not a regular file") && strstr(c.e.msg, fifo), "%s", c.e.msg);
    ck_assert_int_lt(time(NULL) - start, 5);
}
END_TEST

/* A body longer than the registry's size is cut off as soon as it passes
 * it, whether the server announced a size or not, and leaves no part. */
START_TEST(test_endless_body_is_cut_at_the_registry_size)
{
    static const char *const modes[] = {"endless", "huge"};
    struct fetch_case c;
    case_open(&c, "http", modes[_i]);
    time_t start = time(NULL);
    long requests, ranges;
    ck_assert_int_eq(case_fetch(&c, &requests, &ranges), EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "larger than") && strstr(c.e.msg, "460676"), "%s: %s", modes[_i], c.e.msg);
    ck_assert_int_eq(requests, 1); /* not retried */
    ck_assert_int_lt(time(NULL) - start, 5);
    assert_cache(c.dir, TRAIN_CSV, false);
}
END_TEST

/* A spec's file:// URL of an endless device is cut at the cap. */
START_TEST(test_dev_zero_is_cut_at_the_cap)
{
    struct fetch_case c;
    case_open(&c, "http", "zero");
    c.o.mirror = NULL;
    c.o.mirror_only = false;
    c.o.max_bytes = 1 << 20;
    ck_assert_int_eq(fetch_url("file:///dev/zero", TRAIN_SHA1, NULL, 0, "zero.csv", &c.o, c.path, sizeof c.path, &c.e),
                     EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "larger than 1048576 bytes"), "%s", c.e.msg);
    assert_cache(c.dir, "zero.csv", false);

    /* a spec's size: smaller than the cap, it is the limit */
    c.e = (struct err){0};
    ck_assert_int_eq(fetch_url("file:///dev/zero", TRAIN_SHA1, NULL, 1000, "zero.csv", &c.o, c.path,
                                     sizeof c.path, &c.e),
                     EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "larger than 1000 bytes"), "%s", c.e.msg);
    assert_cache(c.dir, "zero.csv", false);
}
END_TEST

/* A server that sends fast enough never to trip the low-speed rule, for
 * ever, is stopped by the overall deadline. */
START_TEST(test_dripping_server_meets_the_deadline)
{
    struct fetch_case c;
    case_open(&c, "http", "drip");
    c.o.deadline_s = 2;
    time_t start = time(NULL);
    long requests, ranges;
    ck_assert_int_eq(case_fetch(&c, &requests, &ranges), EXIT_DATA);
    ck_assert_msg(strstr(c.e.msg, "deadline of 2 s"), "%s", c.e.msg);
    ck_assert_int_lt(time(NULL) - start, 6);
    ck_assert(!exists(c.dir, TRAIN_CSV, ""));
}
END_TEST

/* A spec that names a cached file with another hash keeps the verified copy
 * until a replacement verifies. */
START_TEST(test_verified_file_survives_a_failed_replacement)
{
    struct fetch_case c;
    case_open(&c, "http", "keep");
    char data[PATH_MAX], url[PATH_MAX + 64], bad_url[128];
    kaggle_dir(data, sizeof data);
    ck_assert_ptr_nonnull(realpath(data, url + 7));
    memcpy(url, "file://", 7);
    strcat(url, "/" TRAIN_CSV);
    c.o.mirror = NULL;
    c.o.mirror_only = false;
    ck_assert_msg(fetch_url(url, TRAIN_SHA1, NULL, 0, "ds.csv", &c.o, c.path, sizeof c.path, &c.e) == 0, "%s",
                  c.e.msg);
    snprintf(bad_url, sizeof bad_url, "http://127.0.0.1:%d/404/" TEST_CSV, server.port);
    ck_assert_int_eq(fetch_url(bad_url, NULL, TEST_SHA256, 0, "ds.csv", &c.o, c.path, sizeof c.path, &c.e), EXIT_DATA);
    assert_sha1(c.path, TRAIN_SHA1); /* still there, still verified */
    ck_assert(!exists(c.dir, "ds.csv", ".part"));

    /* the replacement that verifies takes its place */
    char good_url[128];
    snprintf(good_url, sizeof good_url, "http://127.0.0.1:%d/plain/" TEST_CSV, server.port);
    c.e = (struct err){0};
    ck_assert_msg(fetch_url(good_url, NULL, TEST_SHA256, 0, "ds.csv", &c.o, c.path, sizeof c.path, &c.e) == 0, "%s",
                  c.e.msg);
    struct digests d;
    ck_assert_int_eq(hash_file(c.path, &d, &c.e), 0);
    ck_assert_str_eq(d.sha256, TEST_SHA256);
}
END_TEST

/* A cache that cannot be written (read-only, no lock file) still serves its
 * verified files; only a fetch needs to write. As root, whom permissions do
 * not stop, a child takes the user nobody's identity. */
START_TEST(test_read_only_cache_serves_verified_files)
{
    struct fetch_case c;
    case_open(&c, "http", "readonly");
    ck_assert_int_eq(fetch_train(&c.o, c.path, &c.e), 0);
    char lock[PATH_MAX];
    snprintf(lock, sizeof lock, "%s/%s.lock", c.dir, TRAIN_CSV);
    ck_assert_int_eq(unlink(lock), 0);
    ck_assert_int_eq(chmod(c.dir, 0555), 0);
    ck_assert_int_eq(chmod(root, 0755), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(100);
        struct err e = {0};
        char path[PATH_MAX];
        c.o.mirror = "http://127.0.0.1:1/unreachable/";
        int rc = fetch_train(&c.o, path, &e);
        if (rc)
            fprintf(stderr, "%s\n", e.msg);
        /* a missing file needs the lock: a clear error, not a hang */
        struct err e2 = {0};
        int rc2 = fetch_dataset_file("kaggle_house_test", TEST_CSV, &c.o, path, sizeof path, &e2);
        _exit(rc ? 10 + rc : rc2 == EXIT_DATA && strstr(e2.msg, ".lock") ? 0 : 20 + rc2);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    chmod(c.dir, 0755);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}
END_TEST

static void read_text(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* The cached file is used with no request at all (the mirror is a closed
 * port, no retries) and its stamp is then a regular file naming its SHA-1. */
static void assert_served_and_stamped(struct fetch_case *c, const char *stamp)
{
    c->e = (struct err){0};
    ck_assert_msg(fetch_train(&c->o, c->path, &c->e) == 0, "%s", c->e.msg);
    struct stat st;
    ck_assert_int_eq(lstat(stamp, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    char text[1024];
    read_text(stamp, text, sizeof text);
    ck_assert_msg(strstr(text, "\nsha1 " TRAIN_SHA1 "\n"), "%s", text);
}

/* The verified stamp (data/stamp.h): written once a cached file has hashed
 * right, trusted while the file's stat matches it, and anything else in its
 * place (a link, garbage, another hash) ignored and rewritten. The proof
 * that a matching stamp is trusted without reading the file: a stamp made
 * for bytes rewritten in place vouches for them, until the rewrite's own
 * ctime (an mtime set back does not hide it) has them hashed and refused. */
START_TEST(test_verified_stamp_is_trusted_only_while_the_file_is_unchanged)
{
    struct fetch_case c;
    case_open(&c, "http", "stamp");
    assert_fetched(&c, 1);
    char stamp[PATH_MAX + 8], outside[PATH_MAX];
    snprintf(stamp, sizeof stamp, "%s.stamp", c.path);
    /* hashed within a second of its last change (the rename): no stamp,
     * checked whenever the fetch ended within that second */
    assert_fetched(&c, 0);
    struct stat renamed;
    struct timespec now;
    ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &now), 0);
    ck_assert_int_eq(stat(c.path, &renamed), 0);
    double since = (double)(now.tv_sec - renamed.st_ctim.tv_sec) + 1e-9 * (double)(now.tv_nsec - renamed.st_ctim.tv_nsec);
    ck_assert_msg(since >= 1.0 || access(stamp, F_OK) != 0, "stamped %.3f s after its last change", since);
    nanosleep(&(struct timespec){.tv_sec = 1, .tv_nsec = 200000000}, NULL);
    c.o.mirror = "http://127.0.0.1:1/unreachable/";
    c.o.max_retries = 0;
    assert_served_and_stamped(&c, stamp);

    /* a link planted at the stamp is neither read nor written through */
    snprintf(outside, sizeof outside, "%s/outside", root);
    write_file(outside, "keep", 4);
    ck_assert_int_eq(unlink(stamp), 0);
    ck_assert_int_eq(symlink(outside, stamp), 0);
    assert_served_and_stamped(&c, stamp);
    char text[1024];
    read_text(outside, text, sizeof text);
    ck_assert_str_eq(text, "keep");

    /* garbage, and a stamp naming another hash: the file is hashed again */
    write_file(stamp, "garbage\n", 8);
    assert_served_and_stamped(&c, stamp);
    read_text(stamp, text, sizeof text); /* a true stamp with a NUL and more after it */
    size_t true_len = strlen(text);
    text[true_len + 1] = 'x';
    write_file(stamp, text, true_len + 2);
    assert_served_and_stamped(&c, stamp);
    struct stat rewritten;
    ck_assert_int_eq(stat(stamp, &rewritten), 0);
    ck_assert_int_eq(rewritten.st_size, (off_t)true_len);
    read_text(stamp, text, sizeof text);
    char *sha1 = strstr(text, "\nsha1 ");
    ck_assert_ptr_nonnull(sha1);
    sha1[6] = sha1[6] == '0' ? '1' : '0';
    write_file(stamp, text, strlen(text));
    assert_served_and_stamped(&c, stamp);

    /* the same size rewritten in place, stamped as it stands with the true
     * digests: served without being read */
    struct stat before, st;
    ck_assert_int_eq(stat(c.path, &before), 0);
    int fd = open(c.path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "XXXX", 4, 100), 4);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(stat(c.path, &st), 0);
    struct digests truth = {.sha1 = TRAIN_SHA1};
    read_text(stamp, text, sizeof text);
    ck_assert_int_eq(sscanf(strstr(text, "\nsha256 "), "\nsha256 %64s", truth.sha256), 1);
    stamp_write(c.path, &st, &truth);
    c.e = (struct err){0};
    ck_assert_msg(fetch_train(&c.o, c.path, &c.e) == 0, "%s", c.e.msg);

    /* its old mtime set back moves the ctime: hashed, refused, kept */
    ck_assert_int_eq(utimensat(AT_FDCWD, c.path, (struct timespec[2]){before.st_atim, before.st_mtim}, 0), 0);
    c.e = (struct err){0};
    ck_assert_int_eq(fetch_train(&c.o, c.path, &c.e), EXIT_DATA);
    ck_assert_int_eq(stat(c.path, &st), 0);
    ck_assert_int_eq(st.st_size, before.st_size);
    ck_assert_int_eq(st.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    c.o = test_options(c.dir, c.mirror, sizeof c.mirror, "http", "stamp");
    assert_fetched(&c, 1);
}
END_TEST

/* Runs a command with its stdout and stderr in out; its exit status. */
static int captured(int (*cmd)(int, char **), int argc, char **argv, char *out, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/captured.txt", root);
    fflush(stdout);
    fflush(stderr);
    int saved[2] = {dup(1), dup(2)};
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int rc = cmd(argc, argv);
    unsilence(saved);
    read_text(path, out, len);
    return rc;
}

/* The line of text that holds `needle` says `want`. */
static void assert_line(const char *text, const char *needle, const char *want)
{
    const char *at = strstr(text, needle), *start = at;
    ck_assert_msg(at, "no '%s' in\n%s", needle, text);
    while (start > text && start[-1] != '\n')
        start--;
    const char *end = strchr(at, '\n');
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(end ? end - start : (long)strlen(start)), start);
    ck_assert_msg(strstr(line, want), "'%s' not on the line of '%s' in\n%s", want, needle, text);
}

/* dir/name, a few bytes (or a link to link_to) last written age_s ago. */
static void leave(const char *dir, const char *name, long age_s, const char *link_to)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct timespec t[2];
    ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &t[0]), 0);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    if (link_to)
        ck_assert_int_eq(symlink(link_to, path), 0);
    else
        write_file(path, "partial", 7);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
}

#define LABELS "t10k-labels-idx1-ubyte"

/* `list` says what a cached .gz's raw cache is and which temporaries
 * writers left (data/temporary.h), and `fetch` removes the stale ones:
 * a PID that is no process and no write for LEFTOVER_STALE_S; the others,
 * and a link named like one, stay. */
START_TEST(test_list_shows_raw_cache_and_leftovers_and_fetch_sweeps)
{
    if (access("/usr/share/datasets/fashion-mnist/" LABELS ".gz", R_OK) != 0)
        return; /* dataset-fashion-mnist is not installed */
    char dir[512], gz[PATH_MAX], raw[PATH_MAX], text[8192];
    snprintf(dir, sizeof dir, "%s/leftovers", root);
    struct fetch_options o = fetch_options_default();
    o.data_dir = dir;
    o.quiet = true;
    struct err e = {0};
    ck_assert_msg(fetch_dataset_file("fashion_mnist", LABELS ".gz", &o, gz, sizeof gz, &e) == 0, "%s", e.msg);
    char *list[] = {"list", "--data-dir", dir, NULL};
    ck_assert_int_eq(captured(cmd_list, 3, list, text, sizeof text), 0);
    assert_line(text, LABELS ".gz ", "cached, no raw cache");
    ck_assert_msg(!strstr(text, "leftover temporaries"), "%s", text);

    /* stamped (as a run a second later would) and read: its raw cache written */
    struct stat st;
    struct digests d;
    ck_assert_int_eq(stat(gz, &st), 0);
    ck_assert_int_eq(hash_file(gz, &d, &e), 0);
    stamp_write(gz, &st, &d);
    uint8_t *labels;
    size_t n;
    enum raw_cache_use use;
    ck_assert_msg(idx_read_labels(gz, &labels, &n, &use, &e) == 0, "%s", e.msg);
    free(labels);
    ck_assert_int_eq(use, RAW_CACHE_WRITTEN);
    ck_assert_int_eq(captured(cmd_list, 3, list, text, sizeof text), 0);
    assert_line(text, LABELS ".gz ", "cached, raw cached");
    /* a byte appended: its ctime moves, its stamp no longer describes it */
    snprintf(raw, sizeof raw, "%s/" LABELS ".idx", dir);
    FILE *f = fopen(raw, "ab");
    ck_assert_ptr_nonnull(f);
    fputc(0, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(captured(cmd_list, 3, list, text, sizeof text), 0);
    assert_line(text, LABELS ".gz ", "cached, raw unverified");

    const long old = LEFTOVER_STALE_S + 60;
    static const char *const stale[] = {LABELS ".idx.99999999", LABELS ".gz.stamp.99999999",
                                        LABELS ".idx.source.99999999"};
    static const char *const kept[] = {LABELS ".idx.99999998", LABELS ".idx.1", "victim", LABELS ".idx.99999997"};
    for (int i = 0; i < 3; i++)
        leave(dir, stale[i], old, NULL);
    leave(dir, kept[0], 5, NULL); /* a writer on another host, maybe */
    leave(dir, kept[1], old, NULL); /* init's PID: a live process */
    leave(dir, kept[2], old, NULL);
    leave(dir, kept[3], old, "victim"); /* never followed, never removed */
    ck_assert_int_eq(captured(cmd_list, 3, list, text, sizeof text), 0);
    for (int i = 0; i < 3; i++)
        assert_line(text, stale[i], "stale: no process 99999999, last written 11 min ago");
    assert_line(text, kept[0], "recent: no process 99999998, last written "); /* 5 s, or 6 by now */
    assert_line(text, kept[0], " s ago; stale after 10 min");
    assert_line(text, LABELS ".idx.1 ", "live: process 1 exists");
    ck_assert_msg(!strstr(text, "99999997"), "a link listed:\n%s", text);

    char *fetch[] = {"fetch", "fashion_mnist", "--data-dir", dir, NULL};
    ck_assert_int_eq(captured(cmd_fetch, 4, fetch, text, sizeof text), 0);
    for (int i = 0; i < 3; i++) {
        assert_line(text, stale[i], "removed");
        ck_assert_msg(!exists(dir, stale[i], ""), "%s left", stale[i]);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_msg(exists(dir, kept[i], ""), "%s removed", kept[i]);
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/%s", dir, kept[3]);
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

Suite *suite_fetch(void)
{
    Suite *s = suite_create("fetch");
    TCase *http = tcase_create("http");
    tcase_add_unchecked_fixture(http, setup_http, teardown);
    tcase_set_timeout(http, 30);
    tcase_add_test(http, test_fetch_verifies_then_reuses_cache_without_request);
    tcase_add_test(http, test_corrupt_cached_file_is_fetched_again);
    tcase_add_test(http, test_404_fails_at_once_naming_url_and_status);
    tcase_add_test(http, test_500_gives_up_after_max_retries);
    tcase_add_loop_test(http, test_fetch_recovers_from_fault, 0, sizeof recoveries / sizeof recoveries[0]);
    tcase_add_test(http, test_wrong_bytes_name_both_hashes_and_leave_nothing);
    tcase_add_test(http, test_stalled_server_times_out);
    tcase_add_test(http, test_file_url_mirror);
    tcase_add_test(http, test_mirror_from_environment);
    tcase_add_test(http, test_concurrent_fetches_share_one_download);
    tcase_add_test(http, test_fetch_url_sanitises_cache_name);
    tcase_add_test(http, test_fetch_command_exit_codes);
    tcase_add_test(http, test_fashion_mnist_from_debian_copy);
    tcase_add_test(http, test_list_shows_raw_cache_and_leftovers_and_fetch_sweeps);
    suite_add_tcase(s, http);

    TCase *hardening = tcase_create("hardening");
    tcase_add_unchecked_fixture(hardening, setup_http, teardown);
    tcase_set_timeout(hardening, 30);
    tcase_add_test(hardening, test_planted_links_are_not_followed);
    tcase_add_test(hardening, test_fifo_in_cache_is_refused);
    tcase_add_loop_test(hardening, test_endless_body_is_cut_at_the_registry_size, 0, 2);
    tcase_add_test(hardening, test_dev_zero_is_cut_at_the_cap);
    tcase_add_test(hardening, test_dripping_server_meets_the_deadline);
    tcase_add_test(hardening, test_verified_file_survives_a_failed_replacement);
    tcase_add_test(hardening, test_read_only_cache_serves_verified_files);
    tcase_add_test(hardening, test_verified_stamp_is_trusted_only_while_the_file_is_unchanged);
    suite_add_tcase(s, hardening);

    TCase *https = tcase_create("https");
    tcase_add_unchecked_fixture(https, setup_https, teardown);
    tcase_set_timeout(https, 30);
    tcase_add_test(https, test_https_verifies_peer);
    tcase_add_test(https, test_https_ca_bundle_from_environment);
    suite_add_tcase(s, https);

    TCase *offline = tcase_create("offline");
    tcase_add_test(offline, test_registry_entries_and_suggestions);
    tcase_add_test(offline, test_sanitize_and_data_dir_rules);
    suite_add_tcase(s, offline);
    return s;
}
