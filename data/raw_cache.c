#include "raw_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "read_all.h"
#include "stamp.h"
#include "temporary.h"

#define GZ_SUFFIX ".gz"
#define RAW_SUFFIX ".idx"

int raw_cache_path(char *out, size_t len, const char *gz_path)
{
    size_t n = strlen(gz_path), suffix = strlen(GZ_SUFFIX);
    if (n <= suffix || strcmp(gz_path + n - suffix, GZ_SUFFIX) != 0)
        return -1;
    int m = snprintf(out, len, "%.*s%s", (int)(n - suffix), gz_path, RAW_SUFFIX);
    return m < 0 || (size_t)m >= len ? -1 : 0;
}

static bool same_digests(const struct digests *a, const struct digests *b)
{
    return !strcmp(a->sha1, b->sha1) && !strcmp(a->sha256, b->sha256);
}

/* raw_path opened (never a link followed) when it is a regular file whose
 * source stamp still describes it (*st) and names `source`; -1 otherwise. */
static int open_stamped(const char *raw_path, const struct digests *source, struct stat *st)
{
    int fd = open(raw_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct digests stamped;
    if (fd >= 0 && !(fstat(fd, st) == 0 && S_ISREG(st->st_mode) && source_stamp_read(raw_path, st, &stamped) &&
                     same_digests(&stamped, source))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

bool raw_cache_read(const char *raw_path, const struct digests *source, size_t max_len, uint8_t **bytes,
                    size_t *len)
{
    *bytes = NULL;
    *len = 0;
    struct stat st, after;
    int fd = open_stamped(raw_path, source, &st);
    if (fd < 0)
        return false;
    struct err e = {0};
    bool ok = !read_all_fd(fd, &st, raw_path, max_len, "raw IDX file", bytes, len, &e) && fstat(fd, &after) == 0 &&
              stat_unchanged(&st, &after);
    close(fd);
    if (!ok) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    return ok;
}

enum raw_cache_state raw_cache_state(const char *gz_path)
{
    char raw_path[PATH_MAX];
    struct stat gz, raw;
    struct digests source;
    if (raw_cache_path(raw_path, sizeof raw_path, gz_path) || lstat(raw_path, &raw) != 0)
        return RAW_CACHE_ABSENT;
    int fd = stat(gz_path, &gz) == 0 && stamp_read(gz_path, &gz, &source) ? open_stamped(raw_path, &source, &raw)
                                                                            : -1;
    if (fd < 0)
        return RAW_CACHE_UNVERIFIED;
    close(fd);
    return RAW_CACHE_VERIFIED;
}

static bool write_whole(int fd, const uint8_t *bytes, size_t len)
{
    while (len) {
        ssize_t w = write(fd, bytes, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        bytes += w;
        len -= (size_t)w;
    }
    return true;
}

bool raw_cache_write(const char *raw_path, const struct digests *source, const uint8_t *bytes, size_t len)
{
    char tmp[PATH_MAX];
    int fd = temporary_create(raw_path, tmp, sizeof tmp);
    if (fd < 0)
        return false; /* a read-only cache, or something not ours at NAME.idx.PID */
    /* fsync before the rename: a crash never leaves a short NAME.idx; the
     * stat after it, as the rename itself moves the ctime the stamp records */
    bool renamed = write_whole(fd, bytes, len) && fsync(fd) == 0 && rename(tmp, raw_path) == 0;
    struct stat st;
    bool stated = renamed && fstat(fd, &st) == 0;
    close(fd); /* its bytes are on disk already, or it is unlinked */
    if (!renamed)
        unlink(tmp);
    return stated && source_stamp_write(raw_path, &st, source);
}
