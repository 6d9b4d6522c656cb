#include "outfile.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int make_dirs(const char *dir, struct err *e)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return err_set(e, EXIT_USAGE, "%s: path too long", dir);
    for (char *p = path + 1;; p++) {
        char saved = *p;
        if (saved != '/' && saved != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return err_set(e, EXIT_RUNTIME, "cannot create directory %s: %s", path, strerror(errno));
        *p = saved;
        if (!saved)
            break;
    }
    return 0;
}

int outfile_open(struct outfile *o, const char *dir, const char *name, struct err *e)
{
    memset(o, 0, sizeof *o);
    if (make_dirs(dir, e))
        return e->code;
    snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp", o->path);
    if (!(o->f = fopen(o->tmp, "wb")))
        return err_set(e, EXIT_RUNTIME, "cannot write %s: %s", o->tmp, strerror(errno));
    return 0;
}

int outfile_commit(struct outfile *o, struct err *e)
{
    FILE *f = o->f;
    o->f = NULL;
    int bad = ferror(f) | fflush(f) | fsync(fileno(f));
    bad |= fclose(f);
    if (bad || rename(o->tmp, o->path) != 0) {
        int saved = errno;
        unlink(o->tmp);
        return err_set(e, EXIT_RUNTIME, "cannot write %s: %s", o->path, strerror(saved));
    }
    return 0;
}

void outfile_abort(struct outfile *o)
{
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
        unlink(o->tmp);
    }
}
