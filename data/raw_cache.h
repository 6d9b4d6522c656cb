/* A decompressed cache beside a verified .gz: NAME.idx (NAME.gz less its
 * ".gz") holds the inflated bytes and NAME.idx.source, a source stamp
 * (stamp.h), the stat NAME.idx had when it was written and the digests of
 * the .gz it came from. It is used only while that stamp still describes it
 * and names the digests the .gz's own verified stamp names now, so a
 * changed raw file or a newer .gz is never trusted; reading it is about ten
 * times cheaper than inflating. Like a stamp it is a cache, trusted as far
 * as the cache directory is. */
#ifndef D2L_RAW_CACHE_H
#define D2L_RAW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

/* What became of one compressed file's raw cache. */
enum raw_cache_use {
    RAW_CACHE_NONE,       /* no verified stamp on the .gz (or not a .gz): inflated, nothing kept */
    RAW_CACHE_READ,       /* the bytes came from NAME.idx */
    RAW_CACHE_WRITTEN,    /* inflated, and NAME.idx written for next time */
    RAW_CACHE_UNWRITABLE, /* inflated; NAME.idx could not be written (a read-only cache) */
};
#define RAW_CACHE_USES 4

/* NAME.idx for gz_path NAME.gz; -1 when gz_path does not end in ".gz" or
 * the name does not fit. */
int raw_cache_path(char *out, size_t len, const char *gz_path);

/* The bytes of the raw cache at raw_path (malloc'd, *len of them), when it
 * is a regular file (never a link followed) of at most max_len bytes whose
 * source stamp still describes it, names `source` and was unchanged while
 * it was read; false, with nothing allocated, for anything else, a read
 * error included: the caller inflates instead. */
bool raw_cache_read(const char *raw_path, const struct digests *source, size_t max_len, uint8_t **bytes,
                    size_t *len);

/* What the raw cache of the .gz at gz_path is now, judged by the stamps
 * alone (nothing is read): what a run would do with it. */
enum raw_cache_state {
    RAW_CACHE_ABSENT,     /* no NAME.idx (or gz_path is no .gz) */
    RAW_CACHE_VERIFIED,   /* its source stamp describes it and names the digests the .gz's verified stamp does */
    RAW_CACHE_UNVERIFIED, /* present, but not that: the next run inflates and writes it anew */
};
enum raw_cache_state raw_cache_state(const char *gz_path);

/* Writes bytes[0..len) to raw_path as the raw cache of the file with
 * digests `source`: NAME.idx.PID (temporary.h: O_EXCL | O_NOFOLLOW, dead
 * writers' leftovers removed first), fsync'd and renamed
 * over NAME.idx (a link there is replaced, never written through), then its
 * source stamp. False when any step fails (nothing is left but what was
 * there); silent, as the cache is only a speed-up. */
bool raw_cache_write(const char *raw_path, const struct digests *source, const uint8_t *bytes, size_t len);

#endif
