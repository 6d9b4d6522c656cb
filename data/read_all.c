#include "read_all.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int read_all(const char *path, size_t max_len, const char *kind, uint8_t **out, size_t *len, struct err *e)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, EXIT_DATA, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        err_set(e, EXIT_DATA, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    bool regular = S_ISREG(st.st_mode);
    if (regular && (uint64_t)st.st_size > max_len) {
        err_set(e, EXIT_DATA, "%s: %lld bytes, more than any %s (%zu)", path, (long long)st.st_size, kind,
                max_len);
        goto done;
    }
    size_t cap = regular ? (size_t)st.st_size : (size_t)1 << 20;
    if (cap && !(*out = malloc(cap))) {
        err_set(e, EXIT_RUNTIME, "%s: out of memory for %zu bytes", path, cap);
        goto done;
    }
    for (;;) {
        if (*len == cap) {
            if (regular)
                break; /* what stat promised */
            if (cap >= max_len) {
                err_set(e, EXIT_DATA, "%s: more than %zu bytes, more than any %s", path, max_len, kind);
                break;
            }
            size_t bigger_cap = cap < max_len / 2 ? 2 * cap : max_len;
            uint8_t *bigger = realloc(*out, bigger_cap);
            if (!bigger) {
                err_set(e, EXIT_RUNTIME, "%s: out of memory for %zu bytes", path, bigger_cap);
                break;
            }
            *out = bigger;
            cap = bigger_cap;
        }
        ssize_t r = read(fd, *out + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_set(e, EXIT_DATA, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            if (regular)
                err_set(e, EXIT_DATA, "%s: file shrank while reading", path);
            break;
        }
        *len += (size_t)r;
    }
done:
    close(fd);
    if (e->code) {
        free(*out);
        *out = NULL;
        *len = 0;
    }
    return e->code;
}
