#include "open_regular.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *kind_of(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                                                                        : S_ISSOCK(mode) ? "a socket" : "not a file";
}

int open_regular(const char *path, const char *what, int code, struct stat *st, struct err *e)
{
    struct stat own;
    st = st ? st : &own;
    /* O_NONBLOCK: opening a FIFO with no writer would wait for one. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        err_set(e, code, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        err_set(e, code, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st->st_mode)) {
        err_set(e, code, "%s: not a regular file (%s; %s expected)", path, kind_of(st->st_mode), what);
    } else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        err_set(e, code, "%s: cannot open: %s", path, strerror(errno));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

FILE *fopen_regular(const char *path, const char *what, int code, struct err *e)
{
    int fd = open_regular(path, what, code, NULL, e);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        err_set(e, code, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}
