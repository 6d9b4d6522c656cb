/* The temporaries of the data cache's writers and what killed ones leave.
 * A writer of TARGET (a stamp, a raw cache) creates TARGET.PID, writes it
 * and renames it over TARGET. One killed mid-write (SIGKILL, OOM, power
 * loss) leaves TARGET.PID for good, and a later process given the same PID
 * could never create its own (O_EXCL). So each writer first removes the
 * leftovers of writers that are gone: regular files TARGET.PID whose PID is
 * no live process here and that nobody has written to for
 * LEFTOVER_STALE_S. */
#ifndef D2L_TEMPORARY_H
#define D2L_TEMPORARY_H

#include <stddef.h>

/* A cache shared over NFS: a writer on another host looks dead here, but
 * its writes keep the mtime fresh; ten minutes also covers hosts whose
 * clocks disagree. Waiting costs only the disk a dead one holds. */
#define LEFTOVER_STALE_S 600

enum leftover_state {
    LEFTOVER_LIVE,   /* a process with its PID exists (its writer, or the PID reused): kept */
    LEFTOVER_RECENT, /* no such process, but written to within LEFTOVER_STALE_S: kept */
    LEFTOVER_STALE,  /* no such process and older: removed by the next writer */
};

struct leftover {
    const char *name; /* TARGET.PID, the name in the directory */
    long pid;
    long long size;
    long long age_s; /* since its last write; negative for an mtime ahead of this clock */
    enum leftover_state state;
};

/* Calls fn for each regular file beside `target` named exactly TARGET.PID
 * (PID as a writer prints it: decimal, no leading zero, 1..INT_MAX). A
 * link or anything else with such a name is neither followed nor passed.
 * -1 when the directory cannot be read (none yet: nothing to see). */
int leftovers_each(const char *target, void (*fn)(const struct leftover *l, void *ctx), void *ctx);

/* Removes target's stale leftovers (unlinkat: a name, never what a link
 * points to), calling `removed` (when not NULL) for each; best effort, as
 * a read-only cache is no error. The number removed. */
int leftovers_sweep(const char *target, void (*removed)(const struct leftover *l, void *ctx), void *ctx);

/* Creates target's temporary TARGET.OUR_PID (written to tmp) with
 * O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode 0644, after
 * sweeping target's stale leftovers. A regular file already there is the
 * leftover of an earlier process with our PID (a container's PID 1 every
 * run): no live writer can own it, as the PID is ours and no two threads
 * write one target, so it is removed and the create tried once more. The
 * descriptor, or -1 (a read-only cache, a link or directory planted there). */
int temporary_create(const char *target, char *tmp, size_t tmp_len);

#endif
