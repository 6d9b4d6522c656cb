/* IDX reader and Fashion-MNIST loader: small files written here (raw and
 * gzip) for each kind of damage, and the real Debian files when present. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../data/fashion_mnist.h"
#include "../data/idx.h"
#include "../data/stamp.h"
#include "../data/temporary.h"
#include "tmpdir.h"

static enum raw_cache_use use; /* where a read's bytes came from (no stamps here: none) */

/* Writes an IDX header (magic, dims) then `len` data bytes, gzipped or raw
 * through zlib ("wT" writes without compression). */
static const char *write_idx(const char *name, int gz, uint32_t magic, const uint32_t *dims,
                             int n_dims, const uint8_t *data, size_t len)
{
    const char *path = tmp_path(name);
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    ck_assert_ptr_nonnull(f);
    uint8_t header[16];
    for (int i = 0; i <= n_dims; i++) {
        uint32_t v = i == 0 ? magic : dims[i - 1];
        header[4 * i] = (uint8_t)(v >> 24);
        header[4 * i + 1] = (uint8_t)(v >> 16);
        header[4 * i + 2] = (uint8_t)(v >> 8);
        header[4 * i + 3] = (uint8_t)v;
    }
    ck_assert_int_eq(gzwrite(f, header, 4u * (unsigned)(n_dims + 1)), 4 * (n_dims + 1));
    if (len)
        ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
    return path;
}

/* n images of side x side, pixel i = i * 7 mod 256. */
static const char *write_images(const char *name, int gz, uint32_t n, uint32_t side, size_t len)
{
    uint8_t *px = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        px[i] = (uint8_t)(i * 7);
    uint32_t dims[3] = {n, side, side};
    const char *path = write_idx(name, gz, 0x803, dims, 3, px, len);
    free(px);
    return path;
}

static const char *write_labels(const char *name, uint32_t n, const uint8_t *labels)
{
    uint32_t dims[1] = {n};
    return write_idx(name, 1, 0x801, dims, 1, labels, n);
}

static void assert_images_error(const char *path, const char *needle)
{
    uint8_t *px = (uint8_t *)1;
    size_t n, rows, cols;
    struct err e = {0};
    ck_assert_int_eq(idx_read_images(path, &px, &n, &rows, &cols, &use, &e), EXIT_DATA);
    ck_assert_ptr_null(px);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, needle), "message '%s' lacks '%s'",
                  e.msg, needle);
}

START_TEST(test_images_raw_and_gzip)
{
    tmp_dir_make("idx");
    for (int gz = 0; gz < 2; gz++) {
        const char *path = write_images(gz ? "a.gz" : "a", gz, 3, 4, 3 * 16);
        uint8_t *px;
        size_t n, rows, cols;
        struct err e = {0};
        ck_assert_int_eq(idx_read_images(path, &px, &n, &rows, &cols, &use, &e), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_uint_eq(rows, 4);
        ck_assert_uint_eq(cols, 4);
        for (size_t i = 0; i < 48; i++)
            ck_assert_uint_eq(px[i], (uint8_t)(i * 7));
        free(px);
    }
    tmp_dir_remove();
}
END_TEST

START_TEST(test_images_damaged)
{
    tmp_dir_make("idx");
    /* 2 images of 4x4 promised, 20 of 32 bytes present */
    assert_images_error(write_images("short.gz", 1, 2, 4, 20),
                        "truncated: expected 32 bytes of pixel data, got 20");
    assert_images_error(write_images("short", 0, 2, 4, 20),
                        "truncated: expected 32 bytes of pixel data, got 20");
    assert_images_error(write_images("long.gz", 1, 2, 4, 33), "trailing data");
    assert_images_error(write_images("zero.gz", 1, 0, 4, 0), "dimension 0 is 0");
    /* 65536 * 65536 * 1 bytes would be 4 GiB */
    uint32_t huge[3] = {65536, 65536, 1};
    assert_images_error(write_idx("huge", 1, 0x803, huge, 3, NULL, 0), "more than");
    uint8_t labels[2] = {1, 2};
    assert_images_error(write_labels("labels.gz", 2, labels), "bad magic 0x00000801");

    FILE *f = fopen(tmp_path("empty"), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fclose(f), 0);
    assert_images_error(tmp_path("empty"), "empty file");
    f = fopen(tmp_path("stub"), "wb");
    ck_assert_int_eq(fwrite("\0\0\x08\x03\0\0", 1, 6, f), 6);
    ck_assert_int_eq(fclose(f), 0);
    assert_images_error(tmp_path("stub"), "truncated header");
    assert_images_error(tmp_path("missing"), "cannot open");

    /* a gzip stream cut in the middle */
    const char *whole = write_images("cut.gz", 1, 50, 28, 50 * 784);
    f = fopen(whole, "rb");
    uint8_t buf[4096];
    size_t got = fread(buf, 1, sizeof buf, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_gt(got, 200);
    f = fopen(whole, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, got / 2, f), got / 2);
    ck_assert_int_eq(fclose(f), 0);
    uint8_t *px;
    size_t n, rows, cols;
    struct err e = {0};
    ck_assert_int_eq(idx_read_images(whole, &px, &n, &rows, &cols, &use, &e), EXIT_DATA);
    ck_assert_ptr_nonnull(strstr(e.msg, whole));
    tmp_dir_remove();
}
END_TEST

START_TEST(test_labels)
{
    tmp_dir_make("idx");
    uint8_t want[5] = {0, 9, 3, 3, 7};
    uint8_t *labels;
    size_t n;
    struct err e = {0};
    ck_assert_int_eq(idx_read_labels(write_labels("l.gz", 5, want), &labels, &n, &use, &e), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(labels, want, 5);
    free(labels);

    /* a pipe, or a FIFO with no writer, is refused at once: never waited on */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    ck_assert_int_eq(idx_read_labels(path, &labels, &n, &use, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, "not a regular file (a FIFO; IDX file expected)"), "%s", e.msg);
    ck_assert_int_eq(close(fds[0]), 0);
    ck_assert_int_eq(close(fds[1]), 0);
    const char *fifo = tmp_path("fifo.gz");
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    e = (struct err){0};
    ck_assert_int_eq(idx_read_labels(fifo, &labels, &n, &use, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, "not a regular file"), "%s", e.msg);
    e = (struct err){0};

    uint32_t dims[1] = {6};
    const char *shortp = write_idx("short.gz", 1, 0x801, dims, 1, want, 5);
    ck_assert_int_eq(idx_read_labels(shortp, &labels, &n, &use, &e), EXIT_DATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "expected 6 bytes of label data, got 5"));
    tmp_dir_remove();
}
END_TEST

/* Appends bytes to a file, or overwrites its last four (the gzip size field). */
static void patch_file(const char *path, const void *bytes, size_t len, bool at_end_of_trailer)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, at_end_of_trailer ? -4 : 0, SEEK_END), 0);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void assert_images_ok(const char *path, size_t want_n)
{
    uint8_t *px;
    size_t n, rows, cols;
    struct err e = {0};
    ck_assert_msg(idx_read_images(path, &px, &n, &rows, &cols, &use, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, want_n);
    for (size_t i = 0; i < n * rows * cols; i++)
        ck_assert_uint_eq(px[i], (uint8_t)(i * 7));
    free(px);
}

START_TEST(test_gzip_members_and_size_field)
{
    tmp_dir_make("idx");
    /* a damaged size field is corruption, and never a 4 GiB buffer */
    const char *path = write_images("small_isize.gz", 1, 300, 28, 300 * 784);
    assert_images_ok(path, 300);
    patch_file(path, "\x01\0\0\0", 4, true);
    assert_images_error(path, "corrupt or truncated gzip data");
    path = write_images("huge_isize.gz", 1, 300, 28, 300 * 784);
    patch_file(path, "\xff\xff\xff\xff", 4, true);
    assert_images_error(path, "corrupt or truncated gzip data");

    /* header and pixels in two gzip members, as `cat a.gz b.gz` makes: the
     * last member's size field (32) undersizes the buffer, which grows */
    uint32_t dims[3] = {2, 4, 4};
    path = write_idx("members.gz", 1, 0x803, dims, 3, NULL, 0);
    uint8_t px[32];
    for (int i = 0; i < 32; i++)
        px[i] = (uint8_t)(i * 7);
    gzFile f = gzopen(path, "ab");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, px, 32), 32);
    ck_assert_int_eq(gzclose(f), Z_OK);
    assert_images_ok(path, 2);

    path = write_images("garbage.gz", 1, 2, 4, 32);
    patch_file(path, "junk", 4, false);
    assert_images_error(path, "4 bytes of trailing garbage after the gzip data");
    tmp_dir_remove();
}
END_TEST

/* Random damage to a gzip IDX file gives the pixels or an error naming the
 * file, never a crash (a memory-safety check under ASan in CI). */
START_TEST(test_random_damage_is_refused_or_read)
{
    tmp_dir_make("idx");
    const char *whole = write_images("whole.gz", 1, 20, 28, 20 * 784);
    FILE *f = fopen(whole, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t bytes[8192], damaged[8192];
    size_t len = fread(bytes, 1, sizeof bytes, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_lt(len, sizeof bytes);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    int refused = 0;
    for (int trial = 0; trial < 400; trial++) {
        memcpy(damaged, bytes, len);
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t keep = trial % 4 == 0 ? (size_t)(state >> 33) % len : len;
        for (int i = 0; i < 3 && keep > 0; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            damaged[(state >> 33) % keep] ^= (uint8_t)(1u << (state >> 60) % 8);
        }
        const char *path = tmp_write("damaged.gz", damaged, keep);
        uint8_t *px;
        size_t n, rows, cols;
        struct err e = {0};
        int rc = idx_read_images(path, &px, &n, &rows, &cols, &use, &e);
        ck_assert_msg(rc == 0 || (rc == EXIT_DATA && strstr(e.msg, path)), "trial %d: rc %d: %s", trial, rc, e.msg);
        if (rc == 0)
            free(px);
        refused += rc != 0;
    }
    ck_assert_int_gt(refused, 300); /* gzip's CRC catches nearly all of it */
    tmp_dir_remove();
}
END_TEST

static int load_small(const uint8_t *labels, uint32_t n_labels, uint32_t side,
                      struct data_split *s, struct err *e)
{
    const char *ti = write_images("ti.gz", 1, 4, side, 4u * side * side);
    const char *tl = write_labels("tl.gz", n_labels, labels);
    const char *vi = write_images("vi", 0, 2, 28, 2 * 784);
    uint8_t vl_labels[2] = {9, 0};
    const char *vl = write_labels("vl.gz", 2, vl_labels);
    return fashion_mnist_load(ti, tl, vi, vl, s, e);
}

START_TEST(test_fashion_mnist_small)
{
    tmp_dir_make("idx");
    uint8_t labels[4] = {0, 1, 9, 5};
    struct data_split s;
    struct err e = {0};
    ck_assert_int_eq(load_small(labels, 4, 28, &s, &e), 0);
    ck_assert_uint_eq(s.train.n, 4);
    ck_assert_uint_eq(s.train.d, 784);
    ck_assert_int_eq(s.train.x_type, X_U8);
    ck_assert_float_eq(s.train.x_scale, 1.0f / 255.0f);
    ck_assert_uint_eq(((uint8_t *)s.train.x)[785], (uint8_t)(785 * 7));
    ck_assert_float_eq(s.train.y[2], 9.0f);
    ck_assert_float_eq(s.test.y[0], 9.0f);
    ck_assert_uint_eq(s.test.n, 2);
    ck_assert_int_eq(s.train.n_classes, 10);
    ck_assert_str_eq(s.train.class_names[9], "ankle boot");
    ck_assert_str_eq(s.test.class_names[0], "t-shirt");
    ck_assert_ptr_null(s.train.ids);
    data_split_free(&s);
    ck_assert_ptr_null(s.train.x);
    ck_assert_uint_eq(s.test.n, 0);

    struct err e2 = {0};
    ck_assert_int_eq(load_small(labels, 3, 28, &s, &e2), EXIT_DATA);
    ck_assert_msg(strstr(e2.msg, "4 images") && strstr(e2.msg, "3 labels") &&
                      strstr(e2.msg, "ti.gz") && strstr(e2.msg, "tl.gz"),
                  "%s", e2.msg);
    ck_assert_ptr_null(s.train.x);

    uint8_t bad[4] = {0, 1, 10, 5};
    struct err e3 = {0};
    ck_assert_int_eq(load_small(bad, 4, 28, &s, &e3), EXIT_DATA);
    ck_assert_msg(strstr(e3.msg, "tl.gz: label 2 is 10"), "%s", e3.msg);

    struct err e4 = {0};
    ck_assert_int_eq(load_small(labels, 4, 27, &s, &e4), EXIT_DATA);
    ck_assert_msg(strstr(e4.msg, "27x27"), "%s", e4.msg);

    /* the files load side by side; the first broken one in file order is named */
    ck_assert_int_eq(unlink(tmp_path("tl.gz")), 0);
    ck_assert_int_eq(unlink(tmp_path("vi")), 0);
    struct err e5 = {0};
    ck_assert_int_eq(fashion_mnist_load(tmp_path("ti.gz"), tmp_path("tl.gz"), tmp_path("vi"), tmp_path("vl.gz"),
                                        &s, &e5),
                     EXIT_DATA);
    ck_assert_msg(strstr(e5.msg, "tl.gz: cannot open"), "%s", e5.msg);
    ck_assert_ptr_null(s.train.x);
    tmp_dir_remove();
}
END_TEST

#define DEBIAN_FASHION "/usr/share/datasets/fashion-mnist/"

START_TEST(test_fashion_mnist_debian)
{
    if (access(DEBIAN_FASHION "train-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "skip: %s not installed (dataset-fashion-mnist)\n", DEBIAN_FASHION);
        return;
    }
    struct data_split s;
    struct err e = {0};
    ck_assert_int_eq(fashion_mnist_load(DEBIAN_FASHION "train-images-idx3-ubyte.gz",
                                        DEBIAN_FASHION "train-labels-idx1-ubyte.gz",
                                        DEBIAN_FASHION "t10k-images-idx3-ubyte.gz",
                                        DEBIAN_FASHION "t10k-labels-idx1-ubyte.gz", &s, &e),
                     0);
    ck_assert_uint_eq(s.train.n, 60000);
    ck_assert_uint_eq(s.test.n, 10000);
    ck_assert_uint_eq(s.train.d, 784);
    /* Fashion-MNIST is balanced: 6000 / 1000 of each class */
    size_t hist[2][10] = {{0}};
    for (int split = 0; split < 2; split++) {
        const struct dataset *ds = split ? &s.test : &s.train;
        for (size_t i = 0; i < ds->n; i++)
            hist[split][(int)ds->y[i]]++;
    }
    for (int c = 0; c < 10; c++) {
        ck_assert_uint_eq(hist[0][c], 6000);
        ck_assert_uint_eq(hist[1][c], 1000);
    }
    /* the first training image is an ankle boot (label 9) with dark corners */
    ck_assert_float_eq(s.train.y[0], 9.0f);
    ck_assert_uint_eq(((uint8_t *)s.train.x)[0], 0);
    data_split_free(&s);
}
END_TEST

/* The verified stamp the fetch leaves on a cached .gz; its digests. */
static struct digests stamp_as_fetched(const char *path)
{
    struct stat st;
    struct digests d;
    struct err e = {0};
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(hash_file(path, &d, &e), 0);
    stamp_write(path, &st, &d);
    return d;
}

/* Reads the n 4x4 images of write_images at path, checks every pixel, and
 * says where they came from. */
static enum raw_cache_use read_checked(const char *path, uint32_t n_want)
{
    uint8_t *px;
    size_t n, rows, cols;
    struct err e = {0};
    enum raw_cache_use from;
    ck_assert_msg(idx_read_images(path, &px, &n, &rows, &cols, &from, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, n_want);
    ck_assert_uint_eq(rows * cols, 16);
    for (size_t i = 0; i < n * 16; i++)
        ck_assert_uint_eq(px[i], (uint8_t)(i * 7));
    free(px);
    return from;
}

static off_t size_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", path);
    return st.st_size;
}

/* A tmp dir with a.gz (3 images) stamped as fetched, read once, which
 * writes its raw cache; gz gets its path, the result is its digests. */
static struct digests first_read(char *gz, size_t len)
{
    tmp_dir_make("raw");
    snprintf(gz, len, "%s", write_images("a.gz", 1, 3, 4, 48)); /* tmp_path's buffers rotate */
    struct digests d = stamp_as_fetched(gz);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    return d;
}

START_TEST(test_raw_cache_written_then_read)
{
    char gz[192];
    first_read(gz, sizeof gz);
    ck_assert_int_eq(size_of(tmp_path("a.idx")), 16 + 48);
    ck_assert_int_gt(size_of(tmp_path("a.idx.source")), 0);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ);

    /* a .gz without a verified stamp, and a raw IDX file, get no raw cache */
    ck_assert_int_eq(read_checked(write_images("b.gz", 1, 3, 4, 48), 3), RAW_CACHE_NONE);
    ck_assert_int_ne(access(tmp_path("b.idx"), F_OK), 0);
    const char *raw = write_images("c", 0, 3, 4, 48);
    stamp_as_fetched(raw);
    ck_assert_int_eq(read_checked(raw, 3), RAW_CACHE_NONE);
    ck_assert_int_ne(access(tmp_path("c.idx"), F_OK), 0);
    tmp_dir_remove();
}
END_TEST

/* Damages a.idx in place (same size; its mtime put back) or cuts it. */
static void damage_raw(bool cut)
{
    const char *raw = tmp_path("a.idx");
    struct stat st;
    ck_assert_int_eq(stat(raw, &st), 0);
    int fd = open(raw, O_RDWR);
    ck_assert_int_ge(fd, 0);
    if (cut) {
        ck_assert_int_eq(ftruncate(fd, 20), 0);
    } else {
        uint8_t b;
        ck_assert_int_eq(pread(fd, &b, 1, 30), 1);
        b ^= 0x40;
        ck_assert_int_eq(pwrite(fd, &b, 1, 30), 1);
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        ck_assert_int_eq(futimens(fd, times), 0);
    }
    ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_raw_cache_changed_is_rebuilt)
{
    char gz[192];
    first_read(gz, sizeof gz);
    /* a flipped byte with size and mtime as stamped: the ctime gives it away
     * (read_checked would see the flipped pixel were it trusted) */
    damage_raw(false);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ);
    damage_raw(true);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    ck_assert_int_eq(size_of(tmp_path("a.idx")), 16 + 48);
    /* a stamp that is garbage */
    tmp_write("a.idx.source", "garbage\n", 8);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    /* a newer verified .gz: the raw cache of the old one is not used */
    write_images("a.gz", 1, 5, 4, 80);
    stamp_as_fetched(gz);
    ck_assert_int_eq(read_checked(gz, 5), RAW_CACHE_WRITTEN);
    ck_assert_int_eq(read_checked(gz, 5), RAW_CACHE_READ);
    tmp_dir_remove();
}
END_TEST

/* No NAME.idx.PID left behind in the directory. */
static void assert_no_temporary(void)
{
    char dir[192];
    snprintf(dir, sizeof dir, "%s", tmp_path("."));
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *ent; (ent = readdir(d));)
        ck_assert_msg(strncmp(ent->d_name, "a.idx.", 6) != 0 || !strcmp(ent->d_name, "a.idx.source"),
                      "left behind: %s", ent->d_name);
    closedir(d);
}

START_TEST(test_raw_cache_link_and_unwritable)
{
    char gz[192];
    struct digests source = first_read(gz, sizeof gz);
    /* a link planted at NAME.idx, to a copy of the right bytes that a
     * source stamp describes (were the link followed, the stamp would
     * match): not read, and replaced, not written through */
    char raw[192], outside[192];
    snprintf(raw, sizeof raw, "%s", tmp_path("a.idx"));
    snprintf(outside, sizeof outside, "%s", tmp_path("outside"));
    ck_assert_int_eq(rename(raw, outside), 0);
    ck_assert_int_eq(symlink(outside, raw), 0);
    struct stat st;
    ck_assert_int_eq(stat(outside, &st), 0);
    ck_assert(source_stamp_write(raw, &st, &source));
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    ck_assert_int_eq(size_of(raw), 16 + 48);
    ck_assert_int_eq(truncate(outside, 10), 0);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ);
    ck_assert_int_eq(size_of(outside), 10);
    assert_no_temporary();

    /* NAME.idx that cannot be written (a directory there, as a read-only
     * cache refuses it): inflated, read all the same, nothing left over */
    ck_assert_int_eq(unlink(raw), 0);
    ck_assert_int_eq(unlink(tmp_path("a.idx.source")), 0);
    ck_assert_int_eq(mkdir(raw, 0755), 0);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_UNWRITABLE);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_UNWRITABLE);
    assert_no_temporary();
    tmp_dir_remove();
}
END_TEST

/* Sets the times of `name` (a link itself, not what it points to) to
 * age_s seconds ago. */
static void age(const char *name, long age_s)
{
    struct timespec t[2];
    ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &t[0]), 0);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, tmp_path(name), t, AT_SYMLINK_NOFOLLOW), 0);
}

/* What a writer killed mid-write leaves: a few bytes last written age_s ago. */
static void leave(const char *name, long age_s)
{
    tmp_write(name, "partial", 7);
    age(name, age_s);
}

static bool present(const char *name)
{
    struct stat st;
    return lstat(tmp_path(name), &st) == 0;
}

/* The next write of the raw cache (and of its source stamp) removes the
 * leftovers of writers that are gone (data/temporary.h): a PID that is no
 * process and no write for LEFTOVER_STALE_S; nothing else. */
START_TEST(test_raw_cache_write_sweeps_stale_leftovers)
{
    char gz[192];
    first_read(gz, sizeof gz);
    const long old = LEFTOVER_STALE_S + 60;
    static const char *const removed[] = {"a.idx.99999999", "a.idx.source.99999999"}; /* above any pid_max */
    static const char *const kept[] = {
        "a.idx.99999998",      /* written to a moment ago: a writer on another host, maybe */
        "a.idx.1",             /* a live process (init) */
        "a.idx.099999999",     /* not a name a writer makes */
        "a.idx.9999999999",    /* no PID */
        "a.idx.99999999.part", /* not the pattern */
        "b.idx.99999999",      /* another file's: swept when that one is written */
    };
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
        leave(removed[i], old);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        leave(kept[i], i == 0 ? 5 : old);
    /* a link named like a leftover, it and its target old: neither followed
     * nor removed, as the tool never makes links (it costs no disk either) */
    leave("victim", old);
    ck_assert_int_eq(symlink(tmp_path("victim"), tmp_path("a.idx.99999997")), 0);
    age("a.idx.99999997", old);

    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ); /* a read writes nothing, removes nothing */
    ck_assert(present(removed[0]));
    damage_raw(true);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
        ck_assert_msg(!present(removed[i]), "%s left", removed[i]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        ck_assert_msg(present(kept[i]), "%s removed", kept[i]);
    struct stat st;
    ck_assert_int_eq(lstat(tmp_path("a.idx.99999997"), &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(size_of(tmp_path("victim")), 7);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ);
    tmp_dir_remove();
}
END_TEST

/* A leftover with our own PID (an earlier process had it: a container's
 * PID 1 every run) can be no live writer's: replaced, however fresh, and
 * the write goes through; a link there is left alone and the cache is just
 * not written. */
START_TEST(test_raw_cache_replaces_a_leftover_of_our_pid)
{
    char gz[192], raw_tmp[64], source_tmp[64], stamp_tmp[64];
    first_read(gz, sizeof gz);
    snprintf(raw_tmp, sizeof raw_tmp, "a.idx.%ld", (long)getpid());
    snprintf(source_tmp, sizeof source_tmp, "a.idx.source.%ld", (long)getpid());
    leave(raw_tmp, 0);
    leave(source_tmp, 0);
    damage_raw(true);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_WRITTEN);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_READ); /* its source stamp was written too */
    ck_assert(!present(raw_tmp) && !present(source_tmp));

    /* the verified stamp's temporary the same way */
    const char *other = write_images("b.gz", 1, 3, 4, 48);
    snprintf(stamp_tmp, sizeof stamp_tmp, "b.gz.stamp.%ld", (long)getpid());
    leave(stamp_tmp, 0);
    struct digests written = stamp_as_fetched(other), read;
    struct stat st;
    ck_assert_int_eq(stat(other, &st), 0);
    ck_assert(stamp_read(other, &st, &read));
    ck_assert_str_eq(read.sha256, written.sha256);
    ck_assert(!present(stamp_tmp));

    leave("victim", 0);
    ck_assert_int_eq(symlink(tmp_path("victim"), tmp_path(raw_tmp)), 0);
    damage_raw(true);
    ck_assert_int_eq(read_checked(gz, 3), RAW_CACHE_UNWRITABLE);
    ck_assert_int_eq(lstat(tmp_path(raw_tmp), &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(size_of(tmp_path("victim")), 7);
    tmp_dir_remove();
}
END_TEST

Suite *suite_idx(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_images_raw_and_gzip);
    tcase_add_test(tc, test_images_damaged);
    tcase_add_test(tc, test_labels);
    tcase_add_test(tc, test_gzip_members_and_size_field);
    tcase_add_test(tc, test_random_damage_is_refused_or_read);
    tcase_add_test(tc, test_fashion_mnist_small);
    tcase_add_test(tc, test_fashion_mnist_debian);
    tcase_add_test(tc, test_raw_cache_written_then_read);
    tcase_add_test(tc, test_raw_cache_changed_is_rebuilt);
    tcase_add_test(tc, test_raw_cache_link_and_unwritable);
    tcase_add_test(tc, test_raw_cache_write_sweeps_stale_leftovers);
    tcase_add_test(tc, test_raw_cache_replaces_a_leftover_of_our_pid);
    suite_add_tcase(s, tc);
    return s;
}
