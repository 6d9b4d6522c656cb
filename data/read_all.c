#include "read_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "big_alloc.h"
#include "../core/open_regular.h"

int read_all_fd(int fd, const struct stat *st, const char *path, size_t max_len, const char *kind, uint8_t **out,
                size_t *len, struct err *e)
{
    *out = NULL;
    *len = 0;
    if ((uint64_t)st->st_size > max_len) {
        err_set(e, EXIT_DATA, "%s: %lld bytes, more than any %s (%zu)", path, (long long)st->st_size, kind, max_len);
        goto done;
    }
    size_t want = (size_t)st->st_size;
    if (want && !(*out = big_alloc(want))) {
        err_set(e, EXIT_RUNTIME, "%s: out of memory for %zu bytes", path, want);
        goto done;
    }
    while (*len < want) {
        ssize_t r = read(fd, *out + *len, want - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_set(e, EXIT_DATA, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            err_set(e, EXIT_DATA, "%s: file shrank while reading", path);
            break;
        }
        *len += (size_t)r;
    }
done:
    if (e->code) {
        free(*out);
        *out = NULL;
        *len = 0;
    }
    return e->code;
}

int read_all(const char *path, size_t max_len, const char *kind, uint8_t **out, size_t *len, struct err *e)
{
    struct stat st;
    int fd = open_regular(path, kind, EXIT_DATA, &st, e);
    if (fd < 0) {
        *out = NULL;
        *len = 0;
        return e->code;
    }
    read_all_fd(fd, &st, path, max_len, kind, out, len, e);
    close(fd);
    return e->code;
}
