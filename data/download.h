/* One URL into one NAME.part file with libcurl: resume with an HTTP range,
 * retry transient failures with exponential backoff, hash while streaming,
 * and keep the part only if it verifies. The cache logic (locking, renaming)
 * is fetch.c's. */
#ifndef D2L_DOWNLOAD_H
#define D2L_DOWNLOAD_H

#include "../core/error.h"
#include "fetch.h"

struct download {
    const char *url;
    const char *sha1, *sha256; /* expected; NULL or "" = not given */
    const char *part_path;     /* where the bytes go (resumed when present) */
    const char *name;          /* for messages and the progress bar */
    long long max_bytes;       /* a longer body is cut off at once */
    const char *max_why;       /* where max_bytes comes from, for the message */
    long deadline_s;           /* for the whole download, retries included */
};

/* On success the part file holds exactly the verified bytes (fsync'ed). On a
 * hash mismatch, or a body longer than max_bytes, the part is deleted and
 * the error names both hashes or the limit. A part that is not a regular
 * file (a planted symbolic link) is refused, never written through. */
int download_verified(const struct download *d, const struct fetch_options *o, struct err *e);

/* libcurl's process-wide set-up, once, before any thread starts (main does
 * it: the data may then load on a thread of its own); each download's own
 * init/cleanup pair only counts references after that. */
int download_global_init(struct err *e);
void download_global_cleanup(void);

#endif
