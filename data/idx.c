#include "idx.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "big_alloc.h"
#include "read_all.h"
#include "stamp.h"
#include "../core/open_regular.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_DIMS 3
#define IDX_MAX_HEADER (4 + 4 * IDX_MAX_DIMS)
/* Larger than any real IDX file; keeps n * rows * cols from overflowing
 * and a corrupt header from asking for a huge allocation. */
#define IDX_MAX_BYTES ((uint64_t)1 << 31)
/* Nothing useful decompresses to more: the largest header and data, and one
 * byte to tell that there is more than the header promises. */
#define IDX_MAX_FILE ((size_t)IDX_MAX_BYTES + IDX_MAX_HEADER + 1)

static uint32_t le32(const uint8_t b[4])
{
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static uint32_t be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool is_gzip(const uint8_t *b, size_t len)
{
    return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

/* Decompresses every gzip member of in[] (gzip allows several, one after
 * another) in one pass with libdeflate, about twice as fast as zlib's
 * streaming inflate. The buffer starts at the size the last member's trailer
 * records (exact for the usual one-member file; bounded by deflate's best
 * ratio, 1032:1, so a damaged trailer cannot ask for gigabytes) and doubles
 * when short, up to IDX_MAX_FILE. */
static int gunzip(const char *path, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                  struct err *e)
{
    *out = NULL;
    *out_len = 0;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d)
        return err_set(e, EXIT_RUNTIME, "%s: out of memory for a gzip decompressor", path);
    size_t cap = in_len >= 4 ? (size_t)le32(in + in_len - 4) + 1 : 1;
    size_t most = in_len < IDX_MAX_FILE / 1032 ? 1032 * in_len + 64 : IDX_MAX_FILE;
    cap = cap < most ? cap : most;
    uint8_t *buf = NULL;
    size_t pos = 0, used = 0;
    while (pos < in_len && !e->code) {
        if (!is_gzip(in + pos, in_len - pos)) {
            err_set(e, EXIT_DATA, "%s: %zu bytes of trailing garbage after the gzip data", path, in_len - pos);
            break;
        }
        if (!buf && !(buf = big_alloc(cap))) {
            err_set(e, EXIT_RUNTIME, "%s: out of memory for %zu bytes", path, cap);
            break;
        }
        size_t in_used = 0, out_used = 0;
        enum libdeflate_result r =
            libdeflate_gzip_decompress_ex(d, in + pos, in_len - pos, buf + used, cap - used, &in_used, &out_used);
        if (r == LIBDEFLATE_SUCCESS) {
            pos += in_used;
            used += out_used;
        } else if (r == LIBDEFLATE_INSUFFICIENT_SPACE && cap < IDX_MAX_FILE) {
            cap = cap < IDX_MAX_FILE / 2 ? 2 * cap : IDX_MAX_FILE;
            uint8_t *bigger = realloc(buf, cap);
            if (!bigger)
                err_set(e, EXIT_RUNTIME, "%s: out of memory for %zu bytes", path, cap);
            else
                buf = bigger;
        } else if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            err_set(e, EXIT_DATA, "%s: decompresses to more than %zu bytes, more than any IDX file", path,
                    IDX_MAX_FILE - 1);
        } else {
            err_set(e, EXIT_DATA, "%s: corrupt or truncated gzip data (%zu bytes of file); fetch it again", path,
                    in_len);
        }
    }
    libdeflate_free_decompressor(d);
    if (e->code) {
        free(buf);
        return e->code;
    }
    *out = buf;
    *out_len = used;
    return 0;
}

/* Checks the IDX header at the start of b[0..len) against the wanted magic
 * and dims; the data must follow it exactly. */
static int idx_parse(const char *path, const uint8_t *b, size_t len, uint32_t want_magic, int want_dims,
                     const char *what, size_t dims[IDX_MAX_DIMS], uint64_t *total, struct err *e)
{
    size_t header_len = 4 + 4 * (size_t)want_dims;
    if (len == 0)
        return err_set(e, EXIT_DATA, "%s: empty file (expected an IDX %s file)", path, what);
    if (len < 4)
        return err_set(e, EXIT_DATA, "%s: truncated: %zu bytes, too short for an IDX header", path, len);
    uint32_t magic = be32(b);
    if (magic != want_magic)
        return err_set(e, EXIT_DATA,
                       "%s: bad magic 0x%08x: expected 0x%08x (uint8 %s, %d dimension%s); is this the right file?",
                       path, magic, want_magic, what, want_dims, want_dims == 1 ? "" : "s");
    if (len < header_len)
        return err_set(e, EXIT_DATA, "%s: truncated header: expected %zu bytes, got %zu", path, header_len, len);
    *total = 1;
    for (int i = 0; i < want_dims; i++) {
        uint32_t dim = be32(b + 4 + 4 * i);
        if (dim == 0)
            return err_set(e, EXIT_DATA, "%s: dimension %d is 0", path, i);
        *total *= dim; /* each factor < 2^32 and total <= 2^31 before it: no overflow */
        if (*total > IDX_MAX_BYTES)
            return err_set(e, EXIT_DATA, "%s: header promises more than %llu bytes; corrupt header?", path,
                           (unsigned long long)IDX_MAX_BYTES);
        dims[i] = dim;
    }
    size_t have = len - header_len;
    if (have < *total)
        return err_set(e, EXIT_DATA, "%s: truncated: expected %llu bytes of %s data, got %zu", path,
                       (unsigned long long)*total, want_dims == 1 ? "label" : "pixel", have);
    if (have > *total)
        return err_set(e, EXIT_DATA, "%s: trailing data after the %llu bytes the header promises", path,
                       (unsigned long long)*total);
    return 0;
}

/* The decompressed bytes of the file at path: from its raw cache when one
 * matches the .gz's verified stamp, else read (and inflated when gzip).
 * *raw_path is set (non-empty) when the bytes should be cached there, for
 * the .gz whose digests are *source. */
static int idx_bytes(const char *path, uint8_t **bytes, size_t *len, char raw_path[PATH_MAX],
                     struct digests *source, enum raw_cache_use *use, struct err *e)
{
    raw_path[0] = '\0';
    struct stat st;
    int fd = open_regular(path, "IDX file", EXIT_DATA, &st, e);
    if (fd < 0)
        return e->code;
    bool cacheable = !raw_cache_path(raw_path, PATH_MAX, path) && stamp_read(path, &st, source);
    if (cacheable && raw_cache_read(raw_path, source, IDX_MAX_FILE, bytes, len)) {
        close(fd);
        raw_path[0] = '\0';
        *use = RAW_CACHE_READ;
        return 0;
    }
    uint8_t *file;
    size_t file_len;
    read_all_fd(fd, &st, path, IDX_MAX_FILE, "IDX file", &file, &file_len, e);
    close(fd);
    if (e->code)
        return e->code;
    if (!is_gzip(file, file_len)) {
        *bytes = file;
        *len = file_len;
        raw_path[0] = '\0'; /* a raw file needs no raw cache */
        return 0;
    }
    gunzip(path, file, file_len, bytes, len, e);
    free(file);
    if (!cacheable)
        raw_path[0] = '\0';
    return e->code;
}

/* Reads a whole uint8 IDX file, gzip-compressed or raw, with the given
 * magic and number of dims; *data gets the bytes after the header. */
static int idx_read(const char *path, uint32_t want_magic, int want_dims, const char *what, uint8_t **data,
                    size_t dims[IDX_MAX_DIMS], enum raw_cache_use *use, struct err *e)
{
    *data = NULL;
    *use = RAW_CACHE_NONE;
    uint8_t *bytes;
    size_t len;
    char raw_path[PATH_MAX];
    struct digests source;
    if (idx_bytes(path, &bytes, &len, raw_path, &source, use, e))
        return e->code;
    uint64_t total = 0;
    if (idx_parse(path, bytes, len, want_magic, want_dims, what, dims, &total, e)) {
        free(bytes);
        return e->code;
    }
    if (raw_path[0]) /* only bytes that parse are kept */
        *use = raw_cache_write(raw_path, &source, bytes, len) ? RAW_CACHE_WRITTEN : RAW_CACHE_UNWRITABLE;
    /* keep only the data: move it over the header and give back the rest */
    size_t header_len = 4 + 4 * (size_t)want_dims;
    memmove(bytes, bytes + header_len, total);
    uint8_t *fit = realloc(bytes, total);
    *data = fit ? fit : bytes;
    return 0;
}

int idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows, size_t *cols,
                    enum raw_cache_use *use, struct err *e)
{
    size_t dims[IDX_MAX_DIMS];
    if (idx_read(path, IDX_MAGIC_IMAGES, 3, "images", pixels, dims, use, e))
        return e->code;
    *n = dims[0];
    *rows = dims[1];
    *cols = dims[2];
    return 0;
}

int idx_read_labels(const char *path, uint8_t **labels, size_t *n, enum raw_cache_use *use, struct err *e)
{
    size_t dims[IDX_MAX_DIMS];
    if (idx_read(path, IDX_MAGIC_LABELS, 1, "labels", labels, dims, use, e))
        return e->code;
    *n = dims[0];
    return 0;
}
