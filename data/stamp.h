/* Verified stamps: NAME.stamp beside a cached file records what the file
 * was (size, mtime and ctime to the nanosecond, inode, device) when it last
 * hashed to the digests the stamp names, so that a file whose stat still
 * matches is used without reading it again. The ctime is the guard: no
 * user can set it, and every write, truncation, rename over or `touch`
 * moves it. A stamp is a cache, never a source of trust beyond the cache
 * directory's own: whoever can write the directory can replace the file. */
#ifndef D2L_STAMP_H
#define D2L_STAMP_H

#include <stdbool.h>
#include <sys/stat.h>

#include "../core/error.h"
#include "hash.h"

/* The digests the stamp of the file at `path` records, when the stamp is a
 * regular file (never a link followed) in exactly the stamp format and its
 * identity fields equal *st; false for anything else (no stamp, unreadable,
 * garbage, stale). */
bool stamp_read(const char *path, const struct stat *st, struct digests *d);

/* True when a and b describe the file in the same state: size, inode,
 * device, mtime and ctime equal. */
bool stat_unchanged(const struct stat *a, const struct stat *b);

/* Both digests of the open regular file fd (at `path`, stat *st taken
 * before). *stampable is true when nothing changed while it was read (the
 * stat after equals *st) and its last change was over a second before the
 * hash began, so that a change in the same clock tick as the hash cannot
 * leave its times as they were. */
int stamp_hash_fd(int fd, const char *path, const struct stat *st, struct digests *d, bool *stampable,
                  struct err *e);

/* Records *d for the file at `path` as *st describes it: NAME.stamp.PID
 * (temporary.h: O_EXCL | O_NOFOLLOW, dead writers' leftovers removed first)
 * renamed over NAME.stamp, so a link planted there is
 * replaced, never written through. Best effort and silent: a cache that
 * cannot be written just hashes its files each time. */
void stamp_write(const char *path, const struct stat *st, const struct digests *d);

/* Source stamps: NAME.source, in the same format and with the same identity
 * fields, records the digests of the file NAME was made from (a raw IDX
 * file inflated from a verified .gz), not NAME's own. Read and written as
 * above (the write says whether it was written); a separate name, so one
 * is never taken for the other. */
bool source_stamp_read(const char *path, const struct stat *st, struct digests *source);
bool source_stamp_write(const char *path, const struct stat *st, const struct digests *source);

/* The names of the stamp and the source stamp of the file at path, whose
 * writers' temporaries are NAME.PID (temporary.h); -1 when they do not fit. */
int stamp_name(char *out, size_t len, const char *path);
int source_stamp_name(char *out, size_t len, const char *path);

#endif
