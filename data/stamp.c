#include "stamp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "temporary.h"

#define STAMP_SUFFIX ".stamp"
#define SOURCE_STAMP_SUFFIX ".source"
#define STAMP_MAX 512 /* the format's longest text is under 300 bytes */

static int stamp_path(char *out, size_t len, const char *path, const char *suffix)
{
    int n = snprintf(out, len, "%s%s", path, suffix);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int stamp_name(char *out, size_t len, const char *path)
{
    return stamp_path(out, len, path, STAMP_SUFFIX);
}

int source_stamp_name(char *out, size_t len, const char *path)
{
    return stamp_path(out, len, path, SOURCE_STAMP_SUFFIX);
}

/* The identity lines of a stamp: everything that must equal the file's
 * stat now for its digests to be used. */
static int render_identity(char *out, size_t len, const struct stat *st)
{
    return snprintf(out, len,
                    "d2ltrain verified stamp 1\nsize %lld\nmtime %lld.%09ld\nctime %lld.%09ld\ninode %llu\n"
                    "device %llu\n",
                    (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                    (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, (unsigned long long)st->st_ino,
                    (unsigned long long)st->st_dev);
}

static int render(char *out, size_t len, const struct stat *st, const struct digests *d)
{
    int n = render_identity(out, len, st);
    if (n < 0 || (size_t)n >= len)
        return -1;
    int m = snprintf(out + n, len - (size_t)n, "sha1 %s\nsha256 %s\n", d->sha1, d->sha256);
    return m < 0 || (size_t)m >= len - (size_t)n ? -1 : n + m;
}

/* The whole stamp, NUL-terminated, and its length; -1 when it is not a
 * regular file of at most STAMP_MAX - 1 bytes. O_NOFOLLOW: a link is
 * ignored, not read. */
static ssize_t read_stamp(const char *path, char *text)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < STAMP_MAX)
        n = read(fd, text, STAMP_MAX - 1);
    close(fd);
    if (n >= 0)
        text[n] = '\0';
    return n;
}

static bool read_as(const char *path, const char *suffix, const struct stat *st, struct digests *d)
{
    char name[PATH_MAX], text[STAMP_MAX], identity[STAMP_MAX], again[STAMP_MAX];
    ssize_t len;
    if (stamp_path(name, sizeof name, path, suffix) || (len = read_stamp(name, text)) < 0)
        return false;
    int n = render_identity(identity, sizeof identity, st);
    if (n < 0 || (size_t)n >= sizeof identity || strncmp(text, identity, (size_t)n) != 0)
        return false;
    if (sscanf(text + n, "sha1 %40[0-9a-f]\nsha256 %64[0-9a-f]\n", d->sha1, d->sha256) != 2 ||
        !hex_digest_valid(d->sha1, SHA1_HEX_LEN) || !hex_digest_valid(d->sha256, SHA256_HEX_LEN))
        return false;
    /* anything more or less than the format (a NUL and more bytes too) is not a stamp */
    return render(again, sizeof again, st, d) == len && memcmp(again, text, (size_t)len) == 0;
}

bool stamp_read(const char *path, const struct stat *st, struct digests *d)
{
    return read_as(path, STAMP_SUFFIX, st, d);
}

bool source_stamp_read(const char *path, const struct stat *st, struct digests *source)
{
    return read_as(path, SOURCE_STAMP_SUFFIX, st, source);
}

bool stat_unchanged(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static bool changed_a_second_before(const struct stat *st, const struct timespec *t)
{
    long long sec = (long long)t->tv_sec - (long long)st->st_ctim.tv_sec;
    return sec > 1 || (sec == 1 && t->tv_nsec > st->st_ctim.tv_nsec);
}

int stamp_hash_fd(int fd, const char *path, const struct stat *st, struct digests *d, bool *stampable,
                  struct err *e)
{
    *stampable = false;
    struct timespec began;
    struct hasher h;
    if (clock_gettime(CLOCK_REALTIME, &began) != 0)
        began.tv_sec = 0; /* no clock: never stamp */
    if (hasher_init(&h, e))
        return e->code;
    if (!hasher_update_fd(&h, fd, path, e))
        hasher_final(&h, d, e);
    hasher_free(&h);
    struct stat after;
    if (!e->code && fstat(fd, &after) == 0)
        *stampable = stat_unchanged(st, &after) && changed_a_second_before(st, &began);
    return e->code;
}

static bool write_as(const char *path, const char *suffix, const struct stat *st, const struct digests *d)
{
    char name[PATH_MAX], tmp[PATH_MAX], text[STAMP_MAX];
    int len = render(text, sizeof text, st, d);
    if (len < 0 || stamp_path(name, sizeof name, path, suffix))
        return false;
    int fd = temporary_create(name, tmp, sizeof tmp);
    if (fd < 0)
        return false; /* a read-only cache, or something not ours at NAME.stamp.PID: hash next time */
    bool written = write(fd, text, (size_t)len) == len;
    if (close(fd) != 0 || !written || rename(tmp, name) != 0) {
        unlink(tmp);
        return false;
    }
    return true;
}

void stamp_write(const char *path, const struct stat *st, const struct digests *d)
{
    write_as(path, STAMP_SUFFIX, st, d);
}

bool source_stamp_write(const char *path, const struct stat *st, const struct digests *source)
{
    return write_as(path, SOURCE_STAMP_SUFFIX, st, source);
}
