#include "idx.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_DIMS 3
/* Larger than any real IDX file; keeps n * rows * cols from overflowing
 * and a corrupt header from asking for a huge allocation. */
#define IDX_MAX_BYTES ((uint64_t)1 << 31)

/* Reads up to len bytes; returns how many were read, or -1 after setting *e
 * (gzread reads raw files transparently, so both kinds come through here). */
static long long gz_read_full(gzFile f, const char *path, void *buf, size_t len, struct err *e)
{
    size_t got = 0;
    while (got < len) {
        size_t chunk = len - got < (size_t)INT_MAX ? len - got : (size_t)INT_MAX;
        int r = gzread(f, (char *)buf + got, (unsigned)chunk);
        if (r < 0) {
            int errnum;
            const char *msg = gzerror(f, &errnum);
            err_set(e, EXIT_DATA, "%s: read error: %s", path,
                    errnum == Z_ERRNO ? strerror(errno) : msg);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

static uint32_t be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads a whole uint8 IDX file with the given magic and number of dims. */
static int idx_read(const char *path, uint32_t want_magic, int want_dims, const char *what,
                    uint8_t **data, size_t dims[IDX_MAX_DIMS], struct err *e)
{
    *data = NULL;
    errno = 0; /* gzopen leaves errno 0 when it failed for lack of memory */
    gzFile f = gzopen(path, "rb");
    if (!f)
        return err_set(e, EXIT_DATA, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");

    uint8_t header[4 + 4 * IDX_MAX_DIMS];
    size_t header_len = 4 + 4 * (size_t)want_dims;
    uint8_t *buf = NULL;
    long long got = gz_read_full(f, path, header, header_len, e);
    if (got < 0)
        goto fail;
    if (got == 0) {
        err_set(e, EXIT_DATA, "%s: empty file (expected an IDX %s file)", path, what);
        goto fail;
    }
    if (got < 4) {
        err_set(e, EXIT_DATA, "%s: truncated: %lld bytes, too short for an IDX header", path, got);
        goto fail;
    }
    uint32_t magic = be32(header);
    if (magic != want_magic) {
        err_set(e, EXIT_DATA,
                "%s: bad magic 0x%08x: expected 0x%08x (uint8 %s, %d dimension%s); "
                "is this the right file?",
                path, magic, want_magic, what, want_dims, want_dims == 1 ? "" : "s");
        goto fail;
    }
    if ((size_t)got < header_len) {
        err_set(e, EXIT_DATA, "%s: truncated header: expected %zu bytes, got %lld", path,
                header_len, got);
        goto fail;
    }

    uint64_t total = 1;
    for (int i = 0; i < want_dims; i++) {
        uint32_t dim = be32(header + 4 + 4 * i);
        if (dim == 0) {
            err_set(e, EXIT_DATA, "%s: dimension %d is 0", path, i);
            goto fail;
        }
        total *= dim; /* each factor < 2^32 and total <= 2^31 before it: no overflow */
        if (total > IDX_MAX_BYTES) {
            err_set(e, EXIT_DATA, "%s: header promises more than %llu bytes; corrupt header?",
                    path, (unsigned long long)IDX_MAX_BYTES);
            goto fail;
        }
        dims[i] = dim;
    }

    buf = malloc(total);
    if (!buf) {
        err_set(e, EXIT_DATA, "%s: out of memory for %llu bytes", path, (unsigned long long)total);
        goto fail;
    }
    got = gz_read_full(f, path, buf, total, e);
    if (got < 0)
        goto fail;
    if ((uint64_t)got < total) {
        err_set(e, EXIT_DATA, "%s: truncated: expected %llu bytes of %s data, got %lld", path,
                (unsigned long long)total, want_dims == 1 ? "label" : "pixel", got);
        goto fail;
    }
    uint8_t extra;
    got = gz_read_full(f, path, &extra, 1, e);
    if (got < 0)
        goto fail;
    if (got > 0) {
        err_set(e, EXIT_DATA, "%s: trailing data after the %llu bytes the header promises", path,
                (unsigned long long)total);
        goto fail;
    }
    int rc = gzclose(f);
    if (rc != Z_OK) {
        free(buf);
        return err_set(e, EXIT_DATA, "%s: close failed (zlib error %d)", path, rc);
    }
    *data = buf;
    return 0;

fail:
    free(buf);
    gzclose(f); /* the error already reported is the one that matters */
    return e->code;
}

int idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows, size_t *cols,
                    struct err *e)
{
    size_t dims[IDX_MAX_DIMS];
    if (idx_read(path, IDX_MAGIC_IMAGES, 3, "images", pixels, dims, e))
        return e->code;
    *n = dims[0];
    *rows = dims[1];
    *cols = dims[2];
    return 0;
}

int idx_read_labels(const char *path, uint8_t **labels, size_t *n, struct err *e)
{
    size_t dims[IDX_MAX_DIMS];
    if (idx_read(path, IDX_MAGIC_LABELS, 1, "labels", labels, dims, e))
        return e->code;
    *n = dims[0];
    return 0;
}
