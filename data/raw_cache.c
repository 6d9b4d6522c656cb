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

bool raw_cache_read(const char *raw_path, const struct digests *source, size_t max_len, uint8_t **bytes,
                    size_t *len)
{
    *bytes = NULL;
    *len = 0;
    int fd = open(raw_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st, after;
    struct digests stamped;
    struct err e = {0};
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && source_stamp_read(raw_path, &st, &stamped) &&
              same_digests(&stamped, source) &&
              !read_all_fd(fd, &st, raw_path, max_len, "raw IDX file", bytes, len, &e) && fstat(fd, &after) == 0 &&
              stat_unchanged(&st, &after);
    close(fd);
    if (!ok) {
        free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    return ok;
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
    int n = snprintf(tmp, sizeof tmp, "%s.%ld", raw_path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return false; /* a read-only cache, or another writer's leftover */
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
