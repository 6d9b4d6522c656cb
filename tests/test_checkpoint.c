/* safetensors checkpoints: a written model reads back bit for bit, and
 * every kind of damage or mismatch is refused with the tensor named. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <sys/stat.h>

#include "../core/checkpoint.h"
#include "../core/safetensors.h"
#include "testutil.h"
#include "tmpdir.h"

/* in -> linear(hidden) -> relu -> linear(3) [-> relu -> linear(2)] */
static void build(struct model *m, struct spec *s, struct backend *be, int hidden, bool deeper)
{
    memset(s, 0, sizeof *s);
    strcpy(s->path, "checkpoint");
    s->layers[0] = (struct layer_spec){.kind = LAYER_LINEAR, .out = hidden, .bias = true};
    s->layers[1] = (struct layer_spec){.kind = LAYER_RELU};
    s->layers[2] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 3, .bias = true};
    s->layers[3] = (struct layer_spec){.kind = LAYER_RELU};
    s->layers[4] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 2, .bias = false};
    s->n_layers = deeper ? 5 : 3;
    s->weight_init = (struct init_spec){INIT_ZEROS, 0, 0};
    struct err e = {0};
    ck_assert_msg(model_build(m, s, be, 5, 4, &e) == 0, "model_build: %s", e.msg);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* A safetensors file with the given header and `data` zero bytes after it. */
static const char *write_safetensors(const char *name, const char *header, size_t data)
{
    size_t len = strlen(header);
    char *bytes = calloc(1, 8 + len + data);
    for (int i = 0; i < 8; i++)
        bytes[i] = (char)((uint64_t)len >> (8 * i));
    memcpy(bytes + 8, header, len);
    const char *path = tmp_write(name, bytes, 8 + len + data);
    free(bytes);
    return path;
}

static void assert_refused(const char *path, const struct model *m, const char *needle)
{
    float *params = calloc(m->n_params, sizeof *params);
    struct err e = {0};
    ck_assert_int_eq(checkpoint_read(path, m, params, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
    free(params);
}

START_TEST(checkpoint_round_trip_and_damage)
{
    tmp_dir_make("ckpt");
    struct backend *be = test_cpu_backend();
    struct spec s;
    struct model m;
    build(&m, &s, be, 4, false);
    ck_assert_uint_eq(m.n_params, 4 * 5 + 4 + 3 * 4 + 3);
    float *params = malloc(m.n_params * sizeof *params), *back = calloc(m.n_params, sizeof *back);
    for (size_t i = 0; i < m.n_params; i++)
        params[i] = (float)i * 0.37f - 5.0f;
    char *path = strdup(tmp_path("model.safetensors")); /* tmp_path's buffers rotate */
    FILE *f = fopen(path, "wb");
    struct err e = {0};
    ck_assert_int_eq(checkpoint_write(f, &m, params, &e), 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(checkpoint_read(path, &m, back, &e) == 0, "%s", e.msg);
    ck_assert_mem_eq(back, params, m.n_params * sizeof *params);

    size_t len;
    char *bytes = read_all(path, &len);
    ck_assert_uint_eq(len % 4, 0);
    assert_refused(tmp_write("cut", bytes, len - 4), &m, "do not hold 12 bytes");
    assert_refused(tmp_write("stub", bytes, 3), &m, "shorter than its 8-byte header size");
    char *edited = malloc(len);
    memcpy(edited, bytes, len);
    edited[5] = 1; /* header size 2^40 */
    assert_refused(tmp_write("huge", edited, len), &m, "not a safetensors file: header size 10995116");
    memcpy(edited, bytes, len);
    memcpy(strstr(edited + 8, "F32"), "F16", 3);
    assert_refused(tmp_write("f16", edited, len), &m, "tensor '0.bias' is F16");
    memcpy(edited, bytes, len);
    edited[8] = '[';
    assert_refused(tmp_write("json", edited, len), &m, "header is not a JSON object");
    assert_refused(tmp_path("missing"), &m, "cannot open");
    assert_refused(tmp_path("."), &m, "not a regular file");

    /* hand-made headers: the model's four tensors take 80 + 16 + 48 + 12 bytes */
    static const char rest[] = "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[96,144]},"
                               "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[144,156]}}";
    char header[512];
    snprintf(header, sizeof header,
             "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,5],\"data_offsets\":[0,80]},"
             "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[80,96]},%s", rest);
    ck_assert_msg(checkpoint_read(write_safetensors("hand", header, 156), &m, back, &e) == 0, "%s", e.msg);
    snprintf(header, sizeof header,
             "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,5],\"data_offsets\":[0,80]},"
             "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[64,80]},%s", rest);
    assert_refused(write_safetensors("overlap", header, 156), &m, "tensors '0.weight' and '0.bias' overlap");
    snprintf(header, sizeof header,
             "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,5],\"data_offsets\":[0,80,1]},"
             "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[80,96]},%s", rest);
    assert_refused(write_safetensors("three", header, 156), &m, "tensor '0.weight': expected dtype, shape and");

    struct spec s2;
    struct model wider, deeper;
    build(&wider, &s2, be, 6, false);
    assert_refused(path, &wider, "shape of 0.weight [4,5] (the model's [6,5]), 0.bias [4] (the model's [6]), "
                                 "2.weight [3,4] (the model's [3,6])");
    build(&deeper, &s2, be, 4, true);
    assert_refused(path, &deeper, "does not fit the spec's model (another spec's checkpoint?): missing 4.weight");
    f = fopen(tmp_path("deep.safetensors"), "wb");
    float *deep_params = calloc(deeper.n_params, sizeof *deep_params);
    ck_assert_int_eq(checkpoint_write(f, &deeper, deep_params, &e), 0);
    ck_assert_int_eq(fclose(f), 0);
    assert_refused(tmp_path("deep.safetensors"), &m, "does not fit the spec's model (another spec's checkpoint?): extra 4.weight");

    free(path);
    free(deep_params);
    free(edited);
    free(bytes);
    free(params);
    free(back);
    model_free(&m);
    model_free(&wider);
    model_free(&deeper);
    be->destroy(be);
    tmp_dir_remove();
}
END_TEST

/* Random damage (a few bytes changed, or the file cut short) gives the
 * parameters or an error naming the file, never a crash: under ASan in CI
 * this is a memory-safety check of the reader. */
START_TEST(checkpoint_random_damage_is_refused_or_read)
{
    tmp_dir_make("ckpt");
    struct backend *be = test_cpu_backend();
    struct spec s;
    struct model m;
    build(&m, &s, be, 4, true);
    float *params = calloc(m.n_params, sizeof *params);
    char *path = strdup(tmp_path("model.safetensors"));
    FILE *f = fopen(path, "wb");
    struct err e = {0};
    ck_assert_int_eq(checkpoint_write(f, &m, params, &e), 0);
    ck_assert_int_eq(fclose(f), 0);
    size_t len;
    char *bytes = read_all(path, &len);
    char *damaged = malloc(len);
    uint64_t rng = 7;
    int refused = 0;
    for (int trial = 0; trial < 400; trial++) {
        memcpy(damaged, bytes, len);
        size_t keep = len;
        if (trial % 4 == 0)
            keep = test_rand_u64(&rng) % len;
        int flips = 1 + (int)(test_rand_u64(&rng) % 4);
        for (int i = 0; i < flips && keep > 0; i++) /* mostly in the header, where the parsing is */
            damaged[test_rand_u64(&rng) % (keep < 200 ? keep : 200)] = (char)test_rand_u64(&rng);
        const char *p = tmp_write("damaged", damaged, keep);
        struct err de = {0};
        int rc = checkpoint_read(p, &m, params, &de);
        ck_assert_msg(rc == 0 || (rc == EXIT_DATA && strstr(de.msg, p)), "trial %d: rc %d: %s", trial, rc, de.msg);
        refused += rc != 0;
    }
    ck_assert_int_gt(refused, 200); /* most damage is noticed */
    free(damaged);
    free(bytes);
    free(path);
    free(params);
    model_free(&m);
    be->destroy(be);
    tmp_dir_remove();
}
END_TEST

/* Bytes of a safetensors file: the header, then `floats` values 0.5, 1.5, ... */
static unsigned char *safetensors_bytes(const char *header, size_t floats, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + floats * 4;
    unsigned char *b = calloc(1, *len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < floats; i++) {
        float v = (float)i + 0.5f;
        memcpy(b + 8 + h + 4 * i, &v, 4);
    }
    return b;
}

/* safetensors_parse on header + data; the message must name the file and
 * say `needle`. */
static void assert_parse_fails(const char *header, size_t floats, long extra_bytes, const char *needle)
{
    size_t len;
    unsigned char *b = safetensors_bytes(header, floats, &len);
    if (extra_bytes < 0)
        len -= (size_t)-extra_bytes;
    else if (extra_bytes > 0) {
        b = realloc(b, len + (size_t)extra_bytes);
        memset(b + len, 7, (size_t)extra_bytes);
        len += (size_t)extra_bytes;
    }
    struct st_file f;
    struct err e = {0};
    ck_assert_msg(safetensors_parse(&f, b, len, "bad.safetensors", &e) == EXIT_DATA, "%s parsed", header);
    ck_assert_msg(!strncmp(e.msg, "bad.safetensors: ", 17) && strstr(e.msg, needle) && !strchr(e.msg, '\n'),
                  "'%s' lacks '%s'", e.msg, needle);
    ck_assert_int_eq(f.n, 0);
    free(b);
}

#define T(name, shape, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

/* Every kind of malformed file the reader must refuse, one clear line each. */
START_TEST(safetensors_refuses_each_kind_of_damage)
{
    size_t len;
    unsigned char *good = safetensors_bytes("{" T("a", "[2,2]", 0, 16) "," T("b", "[3]", 16, 28) "}", 7, &len);
    struct st_file f;
    struct err e = {0};
    ck_assert_msg(safetensors_parse(&f, good, len, "good", &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f.n, 2);
    ck_assert_str_eq(f.tensors[1].name, "b");
    ck_assert(f.tensors[1].data[2] == 6.5f && f.tensors[0].shape[1] == 2);
    safetensors_free(&f);
    free(good);

    assert_parse_fails("{" T("a", "[2,2]", 0, 16) "}", 4, -1, "its shape holds more elements than the 15 bytes of data"); /* truncated */
    assert_parse_fails("", 0, -5, "shorter than its 8-byte header size");
    unsigned char past[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    struct st_file g;
    e = (struct err){0};
    ck_assert_int_eq(safetensors_parse(&g, past, sizeof past, "bad.safetensors", &e), EXIT_DATA);
    ck_assert_str_eq(e.msg, "bad.safetensors: not a safetensors file: header size 200 in a 16-byte file");
    assert_parse_fails("{\"a\": [1,", 0, 0, "header is not a JSON object: ");
    assert_parse_fails("[1, 2]", 0, 0, "header is not a JSON object: another JSON value");
    assert_parse_fails("{" T("a", "[2]", 0, 8) "," T("a", "[2]", 8, 16) "}", 4, 0, "duplicate object key");
    assert_parse_fails("{" T("a", "[2,2]", 0, 16) "," T("b", "[3]", 12, 24) "}", 7, 0, "tensors 'a' and 'b' overlap");
    assert_parse_fails("{" T("a", "[2,2]", 0, 16) "," T("b", "[3]", 20, 32) "}", 8, 0,
                       "4 bytes of data before tensor 'b' belong to no tensor");
    assert_parse_fails("{" T("a", "[2,2]", 0, 16) "," T("b", "[3]", 16, 28) "}", 7, 4,
                       "4 bytes after the last tensor's data");
    assert_parse_fails("{" T("a", "[2,2]", 0, 16) "," T("b", "[3]", 16, 40) "}", 7, 0,
                       "tensor 'b': data_offsets [16, 40] do not hold 12 bytes");
    assert_parse_fails("{" T("a", "[2,2]", -4, 12) "}", 4, 0, "tensor 'a': data_offsets [-4, 12]");
    assert_parse_fails("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 1, 0,
                       "tensor 'a' is F16; d2ltrain reads F32");
    assert_parse_fails("{" T("a", "[4294967296,4294967296,4294967296]", 0, 16) "}", 4, 0,
                       "tensor 'a': its shape holds more elements than the 16 bytes of data");
    assert_parse_fails("{" T("a", "[2,-2]", 0, 16) "}", 4, 0, "shape holds something other than a size");
    assert_parse_fails("{" T("a", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 1, 0, "shape is not a list of at most 8 sizes");
    assert_parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 1, 0, "expected dtype, shape and data_offsets");

    /* non-finite values */
    unsigned char *nan_file = safetensors_bytes("{" T("w", "[3]", 0, 12) "}", 3, &len);
    float bad = NAN;
    memcpy(nan_file + len - 4, &bad, 4);
    e = (struct err){0};
    ck_assert_int_eq(safetensors_parse(&g, nan_file, len, "nan.safetensors", &e), EXIT_DATA);
    ck_assert_str_eq(e.msg, "nan.safetensors: tensor 'w' holds NaN at element 2");
    bad = -INFINITY;
    memcpy(nan_file + len - 8, &bad, 4);
    e = (struct err){0};
    ck_assert_int_eq(safetensors_parse(&g, nan_file, len, "inf.safetensors", &e), EXIT_DATA);
    ck_assert_str_eq(e.msg, "inf.safetensors: tensor 'w' holds an infinity at element 1");
    free(nan_file);

    /* not a regular file: a FIFO with no writer is refused without blocking */
    tmp_dir_make("st");
    const char *fifo = tmp_path("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    e = (struct err){0};
    ck_assert_int_eq(safetensors_load(&g, fifo, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, "fifo: not a regular file"), "%s", e.msg);
    tmp_dir_remove();
}
END_TEST

/* A tied tensor loads from a file that has it under any one of its names,
 * or under all of them when they agree (state_dict's form). */
START_TEST(tied_tensor_loads_under_any_name)
{
    struct spec s;
    memset(&s, 0, sizeof s);
    strcpy(s.path, "tied");
    s.layers[0] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 2, .bias = true, .name = "a"};
    s.layers[1] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 2, .bias = true, .share = "a", .owner = 0};
    s.n_layers = 2;
    struct backend *be = test_cpu_backend();
    struct model m;
    struct err e = {0};
    ck_assert_msg(model_build(&m, &s, be, 2, 4, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(m.n_params, 6);
    tmp_dir_make("tied");
    float params[6];
    size_t len;
    unsigned char *b = safetensors_bytes("{" T("1.weight", "[2,2]", 0, 16) "," T("1.bias", "[2]", 16, 24) "}", 6, &len);
    ck_assert_msg(checkpoint_read(tmp_write("second.safetensors", b, len), &m, params, &e) == 0, "%s", e.msg);
    ck_assert(params[0] == 0.5f && params[5] == 5.5f);
    free(b);
    b = safetensors_bytes("{" T("0.weight", "[2,2]", 0, 16) "," T("0.bias", "[2]", 16, 24) "," T("1.weight", "[2,2]",
                          24, 40) "," T("1.bias", "[2]", 40, 48) "}", 12, &len);
    assert_refused(tmp_write("differ.safetensors", b, len), &m, "tied names that differ: 0.weight and 1.weight, "
                                                                "0.bias and 1.bias");
    float same[12] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6};
    memcpy(b + len - sizeof same, same, sizeof same);
    ck_assert_msg(checkpoint_read(tmp_write("both.safetensors", b, len), &m, params, &e) == 0, "%s", e.msg);
    ck_assert(params[0] == 1 && params[5] == 6);
    free(b);
    tmp_dir_remove();
    model_free(&m);
    be->destroy(be);
}
END_TEST

Suite *suite_checkpoint(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, checkpoint_round_trip_and_damage);
    tcase_add_test(tc, checkpoint_random_damage_is_refused_or_read);
    tcase_add_test(tc, safetensors_refuses_each_kind_of_damage);
    tcase_add_test(tc, tied_tensor_loads_under_any_name);
    suite_add_tcase(s, tc);
    return s;
}
