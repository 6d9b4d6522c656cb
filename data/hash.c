#include "hash.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../core/open_regular.h"

int hasher_init(struct hasher *h, struct err *e)
{
    h->sha1_ctx = EVP_MD_CTX_new();
    h->sha256_ctx = EVP_MD_CTX_new();
    if (!h->sha1_ctx || !h->sha256_ctx || !EVP_DigestInit_ex(h->sha1_ctx, EVP_sha1(), NULL) ||
        !EVP_DigestInit_ex(h->sha256_ctx, EVP_sha256(), NULL)) {
        hasher_free(h);
        return err_set(e, EXIT_RUNTIME, "OpenSSL: cannot initialise SHA-1/SHA-256");
    }
    return 0;
}

int hasher_update(struct hasher *h, const void *bytes, size_t n, struct err *e)
{
    if (!EVP_DigestUpdate(h->sha1_ctx, bytes, n) || !EVP_DigestUpdate(h->sha256_ctx, bytes, n))
        return err_set(e, EXIT_RUNTIME, "OpenSSL: digest update failed");
    return 0;
}

static void to_hex(char *out, const unsigned char *bytes, unsigned n)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int hasher_final(struct hasher *h, struct digests *out, struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n1 = 0, n256 = 0;
    if (!EVP_DigestFinal_ex(h->sha1_ctx, md, &n1) || n1 * 2 != SHA1_HEX_LEN)
        return err_set(e, EXIT_RUNTIME, "OpenSSL: SHA-1 final failed");
    to_hex(out->sha1, md, n1);
    if (!EVP_DigestFinal_ex(h->sha256_ctx, md, &n256) || n256 * 2 != SHA256_HEX_LEN)
        return err_set(e, EXIT_RUNTIME, "OpenSSL: SHA-256 final failed");
    to_hex(out->sha256, md, n256);
    return 0;
}

void hasher_free(struct hasher *h)
{
    EVP_MD_CTX_free(h->sha1_ctx);
    EVP_MD_CTX_free(h->sha256_ctx);
    h->sha1_ctx = h->sha256_ctx = NULL;
}

int hasher_update_fd(struct hasher *h, int fd, const char *path, struct err *e)
{
    unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(e, EXIT_DATA, "cannot read %s: %s", path, strerror(errno));
        if (hasher_update(h, buf, (size_t)n, e))
            return e->code;
    }
    return 0;
}

int hasher_update_file(struct hasher *h, const char *path, struct err *e)
{
    int fd = open_regular(path, "a data file", EXIT_DATA, NULL, e);
    if (fd < 0)
        return e->code;
    hasher_update_fd(h, fd, path, e);
    close(fd);
    return e->code;
}

int hash_file(const char *path, struct digests *out, struct err *e)
{
    struct hasher h;
    if (hasher_init(&h, e))
        return e->code;
    if (!hasher_update_file(&h, path, e))
        hasher_final(&h, out, e);
    hasher_free(&h);
    return e->code;
}

bool hex_digest_valid(const char *hex, size_t len)
{
    if (strlen(hex) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)hex[i]))
            return false;
    return true;
}

static bool given(const char *hex)
{
    return hex && hex[0];
}

bool digests_match(const struct digests *d, const char *sha1, const char *sha256)
{
    if (!given(sha1) && !given(sha256))
        return false;
    return (!given(sha1) || strcasecmp(sha1, d->sha1) == 0) &&
           (!given(sha256) || strcasecmp(sha256, d->sha256) == 0);
}
