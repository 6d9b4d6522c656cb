#include "temporary.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* target's directory ("." for a bare name) and its name in it. */
static int split(const char *target, char dir[PATH_MAX], const char **base)
{
    const char *slash = strrchr(target, '/');
    *base = slash ? slash + 1 : target;
    size_t n = !slash ? 1 : slash == target ? 1 : (size_t)(slash - target);
    if (n >= PATH_MAX || !**base)
        return -1;
    memcpy(dir, slash ? target : ".", n);
    dir[n] = '\0';
    return 0;
}

/* The PID of `name` when it is exactly BASE.PID as temporary_create names
 * one; 0 for anything else. */
static long pid_of(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || name[n] != '.' || name[n + 1] < '1' || name[n + 1] > '9')
        return 0;
    long pid = 0;
    for (const char *p = name + n + 1; *p; p++) {
        int digit = *p - '0';
        if (digit < 0 || digit > 9 || pid > (INT_MAX - digit) / 10)
            return 0;
        pid = pid * 10 + digit;
    }
    return pid;
}

/* Only "no such process" says a writer is gone; EPERM is another user's. */
static bool process_exists(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

typedef void leftover_fn(int dir_fd, const struct leftover *l, void *ctx);

/* fn for each leftover of target, with the directory it is in. */
static int scan(const char *target, leftover_fn *fn, void *ctx)
{
    char dir[PATH_MAX];
    const char *base;
    struct timespec now;
    if (split(target, dir, &base) || clock_gettime(CLOCK_REALTIME, &now) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    for (struct dirent *ent; (ent = readdir(d));) {
        long pid = pid_of(ent->d_name, base);
        struct stat st;
        if (!pid || fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        struct leftover l = {.name = ent->d_name, .pid = pid, .size = (long long)st.st_size,
                             .age_s = (long long)now.tv_sec - (long long)st.st_mtim.tv_sec};
        l.state = process_exists(pid) ? LEFTOVER_LIVE : l.age_s > LEFTOVER_STALE_S ? LEFTOVER_STALE : LEFTOVER_RECENT;
        fn(dirfd(d), &l, ctx);
    }
    closedir(d);
    return 0;
}

struct each {
    void (*fn)(const struct leftover *l, void *ctx);
    void *ctx;
};

static void pass_on(int dir_fd, const struct leftover *l, void *ctx)
{
    (void)dir_fd;
    const struct each *each = ctx;
    each->fn(l, each->ctx);
}

int leftovers_each(const char *target, void (*fn)(const struct leftover *l, void *ctx), void *ctx)
{
    struct each each = {fn, ctx};
    return scan(target, pass_on, &each);
}

struct sweep {
    void (*removed)(const struct leftover *l, void *ctx);
    void *ctx;
    int n;
};

/* Between the stat and the unlink only a process given the same PID could
 * put a file of its own there: then its rename fails and it writes no cache
 * this once. */
static void remove_stale(int dir_fd, const struct leftover *l, void *ctx)
{
    struct sweep *s = ctx;
    if (l->state != LEFTOVER_STALE || unlinkat(dir_fd, l->name, 0) != 0)
        return;
    s->n++;
    if (s->removed)
        s->removed(l, s->ctx);
}

int leftovers_sweep(const char *target, void (*removed)(const struct leftover *l, void *ctx), void *ctx)
{
    struct sweep s = {removed, ctx, 0};
    scan(target, remove_stale, &s);
    return s.n;
}

int temporary_create(const char *target, char *tmp, size_t tmp_len)
{
    int n = snprintf(tmp, tmp_len, "%s.%ld", target, (long)getpid());
    if (n < 0 || (size_t)n >= tmp_len)
        return -1;
    leftovers_sweep(target, NULL, NULL);
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, 0644);
    struct stat st;
    /* unlink removes a name: were a link put there since the lstat, the link */
    if (fd < 0 && errno == EEXIST && lstat(tmp, &st) == 0 && S_ISREG(st.st_mode) && unlink(tmp) == 0)
        fd = open(tmp, flags, 0644);
    return fd;
}
