/* The files one command writes into --out DIR, committed as one set: a
 * reader (or predict) sees DIR holding the whole old set or the whole new
 * one, never a mix, whatever kills the writer or fills the disk.
 *
 * The set is written into a fresh sibling directory, .NAME.d2ltrain-XXXXXX
 * (files created O_EXCL | O_NOFOLLOW, fsynced); the files of DIR this
 * command does not replace are hard-linked into it, its subdirectories moved
 * in; then the two directories are exchanged in one rename (renameat2
 * RENAME_EXCHANGE) and the old one is removed. DIR is flock()ed from begin
 * to commit: a second writer is refused at once (EXIT_RUNTIME). A staging
 * directory a killed writer left is removed by the next one (subdirectories
 * it had moved go back to DIR). */
#ifndef D2L_OUTFILE_H
#define D2L_OUTFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

struct outset {
    char dir[PATH_MAX];     /* DIR, symbolic links resolved */
    char staging[PATH_MAX]; /* where the set is written */
    int lock_fd;            /* DIR, flock()ed while held */
    bool held;
    const char *const *replaced; /* NULL-terminated: the names this set replaces */
    bool whole;                  /* outset_begin_whole: the set is all of DIR */
    bool created;                /* begin made DIR, and no set is in it yet */
};

/* One file of the set, written into the staging directory. */
struct outfile {
    FILE *f;
    char path[PATH_MAX + NAME_MAX + 2]; /* its final path, for messages */
};

/* Every name a d2ltrain command writes into DIR: run and kfold replace all
 * of them (a new model makes old predictions stale); predict its own. */
extern const char *const outset_all_names[];
extern const char *const outset_predict_names[];

/* Creates DIR (and its parents) when missing, locks it and makes the
 * staging directory. */
int outset_begin(struct outset *s, const char *dir, const char *const *replaced, struct err *e);
/* A set that is all of DIR, subdirectories included (a sweep's): nothing
 * of the old DIR is kept. DIR must be new, empty or a whole set written
 * before (it is marked: a hidden file); any other DIR is refused (exit 2)
 * rather than lost. A whole set's subdirectories go with it when it is
 * dropped, also when a later writer removes what a killed one left. */
int outset_begin_whole(struct outset *s, const char *dir, struct err *e);
/* The subdirectory `name` of a whole set, made in its staging directory:
 * *sub takes files through outfile_open and is never committed or aborted
 * itself (its parent set is). Threads may open files in distinct ones. */
int outset_subdir(const struct outset *s, const char *name, struct outset *sub, struct err *e);
/* Creates `name` in the staging directory. */
int outfile_open(struct outfile *o, const struct outset *s, const char *name, struct err *e);
/* Flushes, fsyncs and closes the file; the error names its final path. */
int outfile_close(struct outfile *o, struct err *e);
/* Drops a file not closed (harmless on a closed or never-opened one). */
void outfile_abort(struct outfile *o);
/* Puts the set in place and releases DIR. */
int outset_commit(struct outset *s, struct err *e);
/* Puts the set in place and begins the next one, DIR locked throughout
 * (a checkpoint: DIR holds what was written so far, and a killed writer
 * leaves it there). The next set's files start empty. */
int outset_checkpoint(struct outset *s, struct err *e);
/* Drops an uncommitted set and releases DIR (harmless after commit or on a
 * set never begun). A DIR that outset_begin created and no commit filled
 * is removed (not its parents): a command stopped before it had anything
 * to write leaves no empty --out behind. */
void outset_abort(struct outset *s);

#endif
