/* SHA-1 and SHA-256 of a byte stream (OpenSSL EVP), computed together while
 * the bytes stream past, so a file is read or downloaded only once. */
#ifndef D2L_HASH_H
#define D2L_HASH_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/error.h"

#define SHA1_HEX_LEN 40
#define SHA256_HEX_LEN 64

struct digests {
    char sha1[SHA1_HEX_LEN + 1]; /* lowercase hex */
    char sha256[SHA256_HEX_LEN + 1];
};

struct hasher {
    void *sha1_ctx, *sha256_ctx; /* EVP_MD_CTX */
};

int hasher_init(struct hasher *h, struct err *e);
int hasher_update(struct hasher *h, const void *bytes, size_t n, struct err *e);
/* Finishes both digests; the hasher may then be freed or re-initialised. */
int hasher_final(struct hasher *h, struct digests *out, struct err *e);
void hasher_free(struct hasher *h);

/* Feeds what is left of the open file fd to an initialised hasher (`path`
 * names it in errors). */
int hasher_update_fd(struct hasher *h, int fd, const char *path, struct err *e);

/* Feeds the whole file at `path` to an initialised hasher. */
int hasher_update_file(struct hasher *h, const char *path, struct err *e);

/* Both digests of the file at `path`. */
int hash_file(const char *path, struct digests *out, struct err *e);

/* True when `hex` is `len` hex digits (either case). */
bool hex_digest_valid(const char *hex, size_t len);

/* True when every given expectation (NULL or "" = none) matches `d`,
 * ignoring case, and at least one was given. */
bool digests_match(const struct digests *d, const char *sha1, const char *sha256);

#endif
