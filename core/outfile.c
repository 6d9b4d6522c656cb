#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"

#define STAGING_TAG ".d2ltrain-"
/* In a set that owns its subdirectories (outset_begin_whole): its mark. */
#define WHOLE_MARK ".d2ltrain-whole-set"
#define PREFIX_MAX (NAME_MAX + sizeof STAGING_TAG + 1)

const char *const outset_all_names[] = {"metrics.jsonl",  "curves.svg",      "config.yaml", "model.safetensors",
                                        "submission.csv", "predictions.csv", "resume.safetensors", NULL};
const char *const outset_predict_names[] = {"submission.csv", "predictions.csv", NULL};

/* Test hook: D2L_TEST_KILL_AT=N kills the process (SIGKILL) at the N-th
 * commit point, so that the tests see what each point leaves behind. */
static void commit_point(void)
{
    static int reached;
    const char *at = getenv("D2L_TEST_KILL_AT");
    if (at && atoi(at) == ++reached)
        raise(SIGKILL);
}

static bool listed(const char *name, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(name, *names))
            return true;
    return false;
}

static bool is_dot(const char *name)
{
    return !strcmp(name, ".") || !strcmp(name, "..");
}

static bool is_subdir(int dir_fd, const char *name)
{
    struct stat st;
    return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static bool has_whole_mark(int dir_fd)
{
    struct stat st;
    return fstatat(dir_fd, WHOLE_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* Removes the subdirectory `name` of dir_fd and what it holds (a whole
 * set's own: files and, at most a few levels down, directories). Links are
 * removed, never followed. */
static void remove_tree(int dir_fd, const char *name, int depth)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    for (struct dirent *ent; (ent = readdir(d));)
        if (is_dot(ent->d_name))
            continue;
        else if (is_subdir(dirfd(d), ent->d_name) && depth < 4)
            remove_tree(dirfd(d), ent->d_name, depth + 1);
        else
            unlinkat(dirfd(d), ent->d_name, 0);
    closedir(d);
    unlinkat(dir_fd, name, AT_REMOVEDIR);
}

/* Removes a staging directory or an old set. Its files are links or ours;
 * a subdirectory is the set's own when the set is a whole one (marked), and
 * goes with it; otherwise it is one of DIR's that a writer moved in and did
 * not commit: it goes back to DIR (unless DIR has that name again, then it
 * stays). */
static void remove_set_dir(const struct outset *s, const char *path, bool kill_midway)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    bool first = true, whole = has_whole_mark(dirfd(d));
    char back[PATH_MAX + NAME_MAX + 2];
    for (struct dirent *ent; (ent = readdir(d));) {
        if (is_dot(ent->d_name) || (whole && !strcmp(ent->d_name, WHOLE_MARK)))
            continue; /* the mark goes last: a writer killed midway leaves it for the next */
        if (!is_subdir(dirfd(d), ent->d_name))
            unlinkat(dirfd(d), ent->d_name, 0);
        else if (whole)
            remove_tree(dirfd(d), ent->d_name, 0);
        else if (snprintf(back, sizeof back, "%s/%s", s->dir, ent->d_name) >= (int)sizeof back ||
                 renameat2(dirfd(d), ent->d_name, AT_FDCWD, back, RENAME_NOREPLACE) != 0)
            fprintf(stderr, "d2ltrain: %s/%s stays there: it cannot go back to %s\n", path, ent->d_name, s->dir);
        if (kill_midway && first)
            commit_point();
        first = false;
    }
    if (whole)
        unlinkat(dirfd(d), WHOLE_MARK, 0);
    closedir(d);
    rmdir(path);
}

/* DIR's parent and the prefix of its staging directories there. */
static void split(const struct outset *s, char *parent, char *prefix)
{
    const char *slash = strrchr(s->dir, '/');
    size_t n = (size_t)(slash - s->dir);
    snprintf(parent, PATH_MAX, "%.*s", (int)(n ? n : 1), s->dir);
    snprintf(prefix, PREFIX_MAX, ".%s" STAGING_TAG, slash + 1);
}

/* What killed writers left beside DIR (only a writer holding the lock may
 * remove them: no other writer of DIR is running). */
static void remove_stale_staging(const struct outset *s)
{
    char parent[PATH_MAX], prefix[PREFIX_MAX], path[PATH_MAX];
    split(s, parent, prefix);
    DIR *d = opendir(parent);
    if (!d)
        return;
    size_t len = strlen(prefix);
    for (struct dirent *ent; (ent = readdir(d));) /* exactly PREFIX + mkdtemp's XXXXXX */
        if (!strncmp(ent->d_name, prefix, len) && strlen(ent->d_name) == len + 6 &&
            snprintf(path, sizeof path, "%s/%s", parent, ent->d_name) < (int)sizeof path)
            remove_set_dir(s, path, false);
    closedir(d);
}

/* Locks DIR's directory itself: flock on the inode that is DIR now (a
 * commit swaps inodes, so the lock is taken again until they agree). */
static int lock_dir(struct outset *s, struct err *e)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return err_set(e, EXIT_RUNTIME, "cannot open %s: %s", s->dir, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int saved = errno;
            close(fd);
            if (saved == EWOULDBLOCK)
                return err_set(e, EXIT_RUNTIME,
                               "%s: another d2ltrain is writing this output directory; wait for it, or "
                               "choose another --out",
                               s->dir);
            return err_set(e, EXIT_RUNTIME, "cannot lock %s: %s", s->dir, strerror(saved));
        }
        struct stat now, locked;
        if (stat(s->dir, &now) == 0 && fstat(fd, &locked) == 0 && now.st_dev == locked.st_dev &&
            now.st_ino == locked.st_ino) {
            s->lock_fd = fd;
            s->held = true;
            return 0;
        }
        close(fd); /* a writer committed meanwhile: lock the new directory */
    }
    return err_set(e, EXIT_RUNTIME, "%s: cannot lock: it keeps being replaced", s->dir);
}

/* A fresh staging directory beside DIR; on failure the set is dropped. */
static int make_staging(struct outset *s, struct err *e)
{
    char parent[PATH_MAX], prefix[PREFIX_MAX];
    split(s, parent, prefix);
    if (snprintf(s->staging, sizeof s->staging, "%s/%sXXXXXX", parent, prefix) >= (int)sizeof s->staging)
        err_set(e, EXIT_USAGE, "%s: path too long", s->dir);
    else if (!mkdtemp(s->staging))
        err_set(e, EXIT_RUNTIME, "cannot create a directory beside %s: %s", s->dir, strerror(errno));
    if (e->code) {
        s->staging[0] = '\0';
        outset_abort(s);
    }
    return e->code;
}

int outset_begin(struct outset *s, const char *dir, const char *const *replaced, struct err *e)
{
    memset(s, 0, sizeof *s);
    s->replaced = replaced;
    if (!dir[0])
        return err_set(e, EXIT_USAGE, "--out needs a directory name");
    struct stat before;
    bool existed = stat(dir, &before) == 0;
    if (make_dirs(dir, 0777, EXIT_RUNTIME, e))
        return e->code;
    if (!realpath(dir, s->dir))
        return err_set(e, EXIT_RUNTIME, "%s: %s", dir, strerror(errno));
    /* the old directory is removed at commit: not one a process may stand in */
    char cwd[PATH_MAX];
    size_t n = strlen(s->dir);
    if (!strcmp(s->dir, "/") ||
        (getcwd(cwd, sizeof cwd) && !strncmp(cwd, s->dir, n) && (cwd[n] == '/' || cwd[n] == '\0')))
        return err_set(e, EXIT_USAGE,
                       "--out %s: the output directory is replaced as a whole when the command ends, so it may "
                       "not be the current directory or hold it; name another",
                       dir);
    if (lock_dir(s, e))
        return e->code;
    s->created = !existed;
    remove_stale_staging(s);
    return make_staging(s, e);
}

/* A whole set replaces what DIR holds: refused for a DIR with other files
 * in it than a whole set's (they would be lost). */
static int check_replaceable(const struct outset *s, struct err *e)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return err_set(e, EXIT_RUNTIME, "cannot read %s: %s", s->dir, strerror(errno));
    bool whole = has_whole_mark(dirfd(d)), empty = true;
    for (struct dirent *ent; (ent = readdir(d));)
        empty &= is_dot(ent->d_name);
    closedir(d);
    if (!whole && !empty)
        return err_set(e, EXIT_USAGE,
                       "--out %s: the directory holds files that no sweep wrote, and a sweep replaces the whole "
                       "directory: name a new or empty one, or an earlier sweep's",
                       s->dir);
    return 0;
}

int outset_begin_whole(struct outset *s, const char *dir, struct err *e)
{
    static const char *const none[] = {NULL};
    if (outset_begin(s, dir, none, e))
        return e->code;
    s->whole = true;
    char mark[PATH_MAX + sizeof WHOLE_MARK + 1];
    snprintf(mark, sizeof mark, "%s/" WHOLE_MARK, s->staging);
    int fd = check_replaceable(s, e) ? -1 : open(mark, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && !e->code)
        err_set(e, EXIT_RUNTIME, "cannot write %s: %s", mark, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (e->code)
        outset_abort(s);
    return e->code;
}

int outset_subdir(const struct outset *s, const char *name, struct outset *sub, struct err *e)
{
    if (!s->whole || !name[0] || strchr(name, '/') || is_dot(name) || strlen(name) > NAME_MAX)
        return err_set(e, EXIT_RUNTIME, "%s: '%s' cannot be a subdirectory of the output set", s->dir, name);
    *sub = (struct outset){.lock_fd = -1};
    if (snprintf(sub->dir, sizeof sub->dir, "%s/%s", s->dir, name) >= (int)sizeof sub->dir ||
        snprintf(sub->staging, sizeof sub->staging, "%s/%s", s->staging, name) >= (int)sizeof sub->staging)
        return err_set(e, EXIT_RUNTIME, "%s/%s: path too long", s->dir, name);
    if (mkdir(sub->staging, 0777) != 0)
        return err_set(e, EXIT_RUNTIME, "cannot create %s: %s", sub->dir, strerror(errno));
    return 0;
}

int outfile_open(struct outfile *o, const struct outset *s, const char *name, struct err *e)
{
    memset(o, 0, sizeof *o);
    snprintf(o->path, sizeof o->path, "%s/%s", s->dir, name);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/%s", s->staging, name) >= (int)sizeof tmp)
        return err_set(e, EXIT_RUNTIME, "%s: path too long", o->path);
    /* a fresh file in our own directory: never an existing one, never through a link */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return err_set(e, EXIT_RUNTIME, "cannot write %s: %s", o->path, strerror(saved));
    }
    return 0;
}

int outfile_close(struct outfile *o, struct err *e)
{
    FILE *f = o->f;
    o->f = NULL;
    errno = 0;
    bool bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    bad = fclose(f) != 0 || bad;
    if (bad)
        return err_set(e, EXIT_RUNTIME, "cannot write %s: %s", o->path, strerror(saved ? saved : errno));
    return 0;
}

void outfile_abort(struct outfile *o)
{
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
    }
}

/* What DIR holds besides the names this set replaces joins the new set:
 * files as hard links, subdirectories moved (remove_set_dir moves them
 * back when the set is not committed). */
static int carry_over(const struct outset *s, int staging_fd, struct err *e)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return err_set(e, EXIT_RUNTIME, "cannot read %s: %s", s->dir, strerror(errno));
    for (struct dirent *ent; (ent = readdir(d)) && !e->code;) {
        if (is_dot(ent->d_name) || listed(ent->d_name, s->replaced) || !strcmp(ent->d_name, WHOLE_MARK))
            continue;
        bool moved = is_subdir(dirfd(d), ent->d_name);
        if ((moved ? renameat2(dirfd(d), ent->d_name, staging_fd, ent->d_name, RENAME_NOREPLACE)
                   : linkat(dirfd(d), ent->d_name, staging_fd, ent->d_name, 0)) != 0)
            err_set(e, EXIT_RUNTIME, "cannot keep %s/%s in the new set: %s", s->dir, ent->d_name, strerror(errno));
    }
    closedir(d);
    return e->code;
}

/* DIR and the staging directory change places in one step; where the file
 * system cannot exchange (EINVAL), DIR is moved aside first, and a reader
 * may find no DIR for that moment. */
static int exchange(const struct outset *s, struct err *e)
{
    if (renameat2(AT_FDCWD, s->staging, AT_FDCWD, s->dir, RENAME_EXCHANGE) == 0)
        return 0;
    if (errno != EINVAL)
        return err_set(e, EXIT_RUNTIME, "cannot replace %s: %s", s->dir, strerror(errno));
    char aside[PATH_MAX + 8];
    snprintf(aside, sizeof aside, "%s.old", s->staging);
    if (rename(s->dir, aside) != 0 || rename(s->staging, s->dir) != 0 || rename(aside, s->staging) != 0)
        return err_set(e, EXIT_RUNTIME, "cannot replace %s: %s", s->dir, strerror(errno));
    return 0;
}

/* Puts the set in place; with `keep`, DIR stays locked (the new directory
 * is locked before it becomes DIR) and a new set begins. */
static int commit(struct outset *s, bool keep, struct err *e)
{
    char parent[PATH_MAX], prefix[PREFIX_MAX];
    split(s, parent, prefix);
    commit_point(); /* 1: the new files are written, DIR untouched */
    int staging_fd = open(s->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (staging_fd < 0)
        return err_set(e, EXIT_RUNTIME, "cannot open %s: %s", s->staging, strerror(errno));
    struct stat old;
    /* the new directory takes the old one's permissions (mkdtemp made it 0700) */
    if (fstat(s->lock_fd, &old) != 0 || fchmod(staging_fd, old.st_mode & 07777) != 0)
        err_set(e, EXIT_RUNTIME, "cannot set the permissions of %s: %s", s->staging, strerror(errno));
    else if (!s->whole)
        carry_over(s, staging_fd, e);
    commit_point(); /* 2: the set is complete beside DIR */
    if (!e->code && fsync(staging_fd) != 0)
        err_set(e, EXIT_RUNTIME, "cannot sync %s: %s", s->staging, strerror(errno));
    if (!e->code && keep && flock(staging_fd, LOCK_EX | LOCK_NB) != 0)
        err_set(e, EXIT_RUNTIME, "cannot lock %s: %s", s->staging, strerror(errno));
    if (e->code || exchange(s, e)) {
        close(staging_fd);
        return e->code;
    }
    s->created = false; /* DIR holds a set now: an abort leaves it */
    commit_point(); /* 3: the new set is DIR, the old one beside it */
    if (sync_dir(parent, EXIT_RUNTIME, e)) {
        close(staging_fd);
        return e->code;
    }
    commit_point(); /* 4: durable */
    remove_set_dir(s, s->staging, true); /* 5: killed while removing the old set */
    s->staging[0] = '\0';
    if (!keep) {
        close(staging_fd);
        outset_abort(s);
        return 0;
    }
    close(s->lock_fd); /* the old directory's, removed */
    s->lock_fd = staging_fd;
    return make_staging(s, e);
}

int outset_commit(struct outset *s, struct err *e)
{
    return commit(s, false, e);
}

int outset_checkpoint(struct outset *s, struct err *e)
{
    return commit(s, true, e);
}

void outset_abort(struct outset *s)
{
    if (s->staging[0])
        remove_set_dir(s, s->staging, false);
    s->staging[0] = '\0';
    /* removed while still locked, so that no other writer holds it; a DIR
     * that someone put files in meanwhile stays (rmdir fails) */
    if (s->held && s->created)
        rmdir(s->dir);
    s->created = false;
    if (s->held)
        close(s->lock_fd);
    s->held = false;
}
