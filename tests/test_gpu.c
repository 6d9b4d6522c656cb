/* The CUDA backend against the CPU backend, op by op, on the same random
 * inputs: several shapes (one row, sizes that are not multiples of 32),
 * outputs poisoned with NaN first so an element left unwritten fails.
 * Errors are max |gpu - cpu| / max |cpu|; ops that are one IEEE operation
 * per element (fill, bias add, products, dropout, gathers, relu) must match
 * exactly. Also: graph replays equal direct calls, a huge alloc fails with
 * the "out of GPU memory" message, a missing GPU is reported, not fatal.
 *
 * Without a GPU the op tests are not added and the runner says "skipped:
 * N tests (no GPU)" (with D2L_GPU_SUITE_ON_CPU=1 they run CPU against
 * CPU, as a check of the suite itself, which `make test` does); a build
 * without CUDA skips the suite, saying so. The suite forks
 * per test (Check's default) and CUDA is first touched inside each test, as
 * a CUDA context does not survive fork(). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/backend.h"
#include "proc.h"
#include "skip.h"
#include "testutil.h"

#ifdef D2L_CUDA
#include "../gpu/cuda_backend.h"

/* Shapes (rows, cols) every row-wise op is run on. */
/* The last two are larger than one pass of the grid (2112 blocks of 256
 * threads on an H100): 630 000 elements, 20 000 rows, so the grid-stride
 * loops go round. */
static const int shapes[][2] = {{1, 1}, {1, 10}, {3, 33}, {256, 10}, {257, 129}, {64, 784}, {20000, 10}, {2100, 300}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

enum { CPU, GPU };

/* backends[CPU], the reference, and backends[GPU], under test: opened by
 * the checked fixture, so inside each forked test; NULL without a GPU. */
static struct backend *backends[2];

/* D2L_GPU_SUITE_ON_CPU=1 seats a second CPU backend where the GPU goes:
 * the suite's own logic (shapes, guards, comparisons) then runs, and must
 * pass, on machines without a GPU; the CUDA-only checks skip. */
static bool harness_on_cpu(void)
{
    const char *v = getenv("D2L_GPU_SUITE_ON_CPU");
    return v && !strcmp(v, "1");
}

static void open_backends(void)
{
    if (harness_on_cpu()) {
        backends[CPU] = test_cpu_backend();
        backends[GPU] = test_cpu_backend();
        return;
    }
    struct err e = {0};
    backends[CPU] = test_cpu_backend();
    backends[GPU] = cuda_backend_create(0, false, &e);
    ck_assert_msg(backends[GPU] != NULL, "cuda_backend_create: %s", e.msg);
}

static void close_backends(void)
{
    for (int side = 0; side < 2; side++) {
        if (backends[side])
            backends[side]->destroy(backends[side]);
        backends[side] = NULL;
    }
}

/* Device buffers of one backend, released together. */
#define MAX_BUFS 16
/* Poisoned bytes after every buffer: an op that writes past its n spoils
 * them, and bufs_release fails the test. */
#define GUARD_BYTES 256
struct bufs {
    struct backend *be;
    void *p[MAX_BUFS];
    size_t bytes[MAX_BUFS];
    int n;
};

/* A device copy of host[0, bytes); host NULL: filled with NaN bytes. */
static void *dev(struct bufs *b, const void *host, size_t bytes)
{
    struct err e = {0};
    ck_assert_int_lt(b->n, MAX_BUFS);
    void *p = b->be->alloc(b->be, bytes + GUARD_BYTES, &e);
    ck_assert_msg(p != NULL, "alloc %zu: %s", bytes, e.msg);
    b->p[b->n] = p;
    b->bytes[b->n++] = bytes;
    unsigned char *poison = malloc(bytes + GUARD_BYTES);
    ck_assert_ptr_nonnull(poison);
    memset(poison, 0xff, bytes + GUARD_BYTES); /* 0xffffffff is a NaN as float, 0xff..ff as double */
    if (host)
        memcpy(poison, host, bytes);
    b->be->upload(b->be, p, poison, bytes + GUARD_BYTES);
    free(poison);
    return p;
}

static void get(struct bufs *b, void *host, const void *device, size_t bytes)
{
    b->be->download(b->be, host, device, bytes);
}

static void bufs_release(struct bufs *b)
{
    unsigned char guard[GUARD_BYTES];
    for (int i = 0; i < b->n; i++) {
        b->be->download(b->be, guard, (const unsigned char *)b->p[i] + b->bytes[i], GUARD_BYTES);
        for (int j = 0; j < GUARD_BYTES; j++)
            ck_assert_msg(guard[j] == 0xff, "%s: buffer %d (%zu bytes) written past its end, at byte %zu",
                          b->be->name, i, b->bytes[i], b->bytes[i] + (size_t)j);
        b->be->release(b->be, b->p[i]);
    }
    b->n = 0;
}

static float *host_floats(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    return x;
}

static float *random_floats(size_t n, uint64_t *rng, double lo, double hi)
{
    float *x = host_floats(n);
    test_fill_uniform(x, n, rng, lo, hi);
    return x;
}

/* max |got - want| / max |want|; a NaN anywhere is infinitely wrong. */
static double max_norm_err(const float *got, const float *want, size_t n)
{
    double diff = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (isnan(d))
            return INFINITY;
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    return diff / scale;
}

/* Fails the test when max_norm_err(got, want) > tol; fmt says what. */
static void assert_close(const float *got, const float *want, size_t n, double tol, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void assert_close(const float *got, const float *want, size_t n, double tol, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    double err = max_norm_err(got, want, n);
    ck_assert_msg(err <= tol, "%s: error %.3g > %.3g", what, err, tol);
}

#define ASSERT_SAME(got, want, n, ...)                                                            \
    ck_assert_msg(memcmp((got), (want), (n) * sizeof *(got)) == 0, "not bit-equal: " __VA_ARGS__)

/* Accumulators start away from zero: the ops must add, not overwrite. */
static const double acc_start[ACC_SLOTS] = {1.5, 2, 3, 4.5, 5.5};

static void assert_acc_close(const double *got, const double *want, const char *what, int rows, int cols)
{
    for (int slot = 0; slot < ACC_SLOTS; slot++)
        ck_assert_msg(test_rel_err(got[slot], want[slot], 1e-30) <= 1e-5,
                      "%s %dx%d: acc[%d] = %.9g, cpu %.9g", what, rows, cols, slot, got[slot], want[slot]);
    ck_assert_double_eq(got[ACC_CORRECT], want[ACC_CORRECT]);
    ck_assert_double_eq(got[ACC_COUNT], want[ACC_COUNT]);
}

/* What one backend computed: up to MAX_OUTS float outputs (NULL where the
 * op was not asked for one) and, for losses, the accumulators. */
#define MAX_OUTS 3
struct result {
    float *out[MAX_OUTS];
    double acc[ACC_SLOTS];
};

/* One op on one backend: reads its inputs from args (an op's own struct),
 * writes r. */
typedef void op_fn(struct backend *be, const void *args, struct result *r);

/* Runs op on be[CPU] and be[GPU] on the same args; output k has out_n[k]
 * floats, 0: not asked for. */
static void run_both(struct backend *const be[2], op_fn *op, const void *args, const size_t out_n[MAX_OUTS],
                     struct result r[2])
{
    for (int side = 0; side < 2; side++) {
        for (int k = 0; k < MAX_OUTS; k++)
            r[side].out[k] = out_n[k] ? host_floats(out_n[k]) : NULL;
        op(be[side], args, &r[side]);
    }
}

static void results_free(struct result r[2])
{
    for (int side = 0; side < 2; side++)
        for (int k = 0; k < MAX_OUTS; k++)
            free(r[side].out[k]);
}

/* A loss without and with its gradient (out[0], n floats): the
 * accumulators must match both ways, the gradient within 1e-5. */
static void check_loss(op_fn *op, const void *args, size_t n, const char *what, int rows, int cols,
                       const char *grad_fmt, ...) __attribute__((format(printf, 7, 8)));
static void check_loss(op_fn *op, const void *args, size_t n, const char *what, int rows, int cols,
                       const char *grad_fmt, ...)
{
    char grad_what[256];
    va_list ap;
    va_start(ap, grad_fmt);
    vsnprintf(grad_what, sizeof grad_what, grad_fmt, ap);
    va_end(ap);
    for (int with_grad = 0; with_grad < 2; with_grad++) {
        struct result r[2];
        run_both(backends, op, args, (const size_t[MAX_OUTS]){with_grad ? n : 0}, r);
        assert_acc_close(r[GPU].acc, r[CPU].acc, what, rows, cols);
        if (with_grad)
            assert_close(r[GPU].out[0], r[CPU].out[0], n, 1e-5, "%s", grad_what);
        results_free(r);
    }
}

/* Calls check on every shape, with one generator per test so each shape
 * gets new data; without a GPU, nothing. */
static void for_each_shape(uint64_t seed, void (*check)(int rows, int cols, uint64_t *rng))
{
    if (!backends[GPU])
        return;
    uint64_t rng = seed;
    for (size_t s = 0; s < N_SHAPES; s++)
        check(shapes[s][0], shapes[s][1], &rng);
}

START_TEST(gpu_fill_and_step)
{
    struct backend *gpu = backends[GPU];
    if (!gpu)
        return;
    size_t n = 1000;
    float x[1000];
    double d[5];
    uint64_t step = 0;
    struct bufs b = {.be = gpu};
    float *dx = dev(&b, NULL, n * sizeof *x);
    double *dd = dev(&b, NULL, sizeof d);
    uint64_t *ds = dev(&b, &step, sizeof step);
    gpu->fill(gpu, dx, 3.5f, n);
    gpu->fill_f64(gpu, dd, -0.25, 5);
    for (int i = 0; i < 3; i++)
        gpu->step_advance(gpu, ds);
    get(&b, x, dx, sizeof x);
    get(&b, d, dd, sizeof d);
    get(&b, &step, ds, sizeof step);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(x[i], 3.5f);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(d[i], -0.25);
    ck_assert_uint_eq(step, 3);
    bufs_release(&b);
}
END_TEST

struct gemm_args {
    bool ta, tb;
    int m, n, k, lda, ldb, ldc;
    const float *a, *b, *c;
};

/* out[0]: C = 0.7 op(A) op(B) + 0.3 C with leading dimensions wider than
 * the matrices. */
static void run_gemm(struct backend *be, const void *args, struct result *r)
{
    const struct gemm_args *g = args;
    struct bufs b = {.be = be};
    size_t a_bytes = (size_t)(g->ta ? g->k : g->m) * g->lda * sizeof(float);
    size_t b_bytes = (size_t)(g->tb ? g->n : g->k) * g->ldb * sizeof(float);
    size_t c_bytes = (size_t)g->m * g->ldc * sizeof(float);
    float *da = dev(&b, g->a, a_bytes), *db = dev(&b, g->b, b_bytes), *dc = dev(&b, g->c, c_bytes);
    be->gemm(be, g->ta, g->tb, g->m, g->n, g->k, 0.7f, da, g->lda, db, g->ldb, 0.3f, dc, g->ldc);
    get(&b, r->out[0], dc, c_bytes);
    bufs_release(&b);
}

START_TEST(gpu_gemm)
{
    if (!backends[GPU])
        return;
    static const int mnk[][3] = {{1, 1, 1}, {257, 129, 65}, {33, 10, 784}, {256, 256, 784}};
    uint64_t rng = 1;
    for (size_t s = 0; s < sizeof mnk / sizeof mnk[0]; s++) {
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int m = mnk[s][0], n = mnk[s][1], k = mnk[s][2];
            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
            size_t a_n = (size_t)(ta ? k : m) * lda, b_n = (size_t)(tb ? n : k) * ldb, c_n = (size_t)m * ldc;
            float *a = random_floats(a_n, &rng, -1, 1), *bm = random_floats(b_n, &rng, -1, 1);
            float *c = random_floats(c_n, &rng, -1, 1);
            struct gemm_args g = {ta, tb, m, n, k, lda, ldb, ldc, a, bm, c};
            struct result r[2];
            run_both(backends, run_gemm, &g, (const size_t[MAX_OUTS]){c_n}, r);
            assert_close(r[GPU].out[0], r[CPU].out[0], c_n, 1e-4, "gemm ta=%d tb=%d %dx%dx%d", ta, tb, m, n, k);
            results_free(r);
            free(a), free(bm), free(c);
        }
    }
}
END_TEST

struct linear_args {
    int rows, in_w, out_w;
    bool has_act;
    enum activation act;
    const float *in, *w, *bias; /* bias NULL: none */
};

/* out[0]: act(in W^T + bias), the fused forward. */
static void run_linear(struct backend *be, const void *args, struct result *r)
{
    const struct linear_args *g = args;
    struct bufs b = {.be = be};
    size_t out_bytes = (size_t)g->rows * g->out_w * sizeof(float);
    float *din = dev(&b, g->in, (size_t)g->rows * g->in_w * sizeof(float));
    float *dw = dev(&b, g->w, (size_t)g->out_w * g->in_w * sizeof(float));
    float *dbias = g->bias ? dev(&b, g->bias, (size_t)g->out_w * sizeof(float)) : NULL;
    float *dout = dev(&b, NULL, out_bytes);
    be->linear_forward(be, dout, din, dw, dbias, g->rows, g->in_w, g->out_w, g->has_act, g->act);
    get(&b, r->out[0], dout, out_bytes);
    bufs_release(&b);
}

START_TEST(gpu_linear_forward)
{
    if (!backends[GPU])
        return;
    static const int dims[][3] = {{1, 1, 1}, {256, 784, 256}, {97, 256, 10}};
    uint64_t rng = 11;
    for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++)
        for (int act = -1; act <= ACT_TANH; act++) {
            int rows = dims[s][0], in_w = dims[s][1], out_w = dims[s][2];
            float *in = random_floats((size_t)rows * in_w, &rng, -1, 1);
            float *w = random_floats((size_t)out_w * in_w, &rng, -0.1, 0.1);
            float *bias = random_floats((size_t)out_w, &rng, -1, 1);
            struct linear_args g = {rows, in_w, out_w, act >= 0, act >= 0 ? (enum activation)act : ACT_RELU,
                                    in, w, act == ACT_SIGMOID ? NULL : bias};
            struct result r[2];
            run_both(backends, run_linear, &g, (const size_t[MAX_OUTS]){(size_t)rows * out_w}, r);
            assert_close(r[GPU].out[0], r[CPU].out[0], (size_t)rows * out_w, 1e-4, "linear_forward %dx%d->%d act %d",
                         rows, in_w, out_w, act);
            results_free(r);
            free(in), free(w), free(bias);
        }
}
END_TEST

/* The TF32 backend is a different, coarser GEMM: near, not equal. */
START_TEST(gpu_gemm_tf32)
{
    if (!backends[GPU] || harness_on_cpu())
        return;
    struct err e = {0};
    struct backend *tf32 = cuda_backend_create(0, true, &e);
    ck_assert_msg(tf32 != NULL, "%s", e.msg);
    int m = 128, n = 96, k = 512;
    uint64_t rng = 2;
    float *a = random_floats((size_t)m * k, &rng, -1, 1), *bm = random_floats((size_t)k * n, &rng, -1, 1);
    float *c = random_floats((size_t)m * n, &rng, -1, 1);
    struct gemm_args g = {false, false, m, n, k, k, n, n, a, bm, c};
    struct backend *const cpu_vs_tf32[2] = {backends[CPU], tf32};
    struct result r[2];
    run_both(cpu_vs_tf32, run_gemm, &g, (const size_t[MAX_OUTS]){(size_t)m * n}, r);
    assert_close(r[GPU].out[0], r[CPU].out[0], (size_t)m * n, 1e-2, "tf32 gemm");
    results_free(r);
    tf32->destroy(tf32);
    free(a), free(bm), free(c);
}
END_TEST

struct bias_args {
    int rows, cols;
    const float *x, *bias, *dout;
};

/* out[0]: x + bias on every row; out[1]: bias_grad of dout; out[2]: a
 * second use of a tied bias added to it (beta 1). */
static void run_bias(struct backend *be, const void *args, struct result *r)
{
    const struct bias_args *a = args;
    struct bufs b = {.be = be};
    size_t n = (size_t)a->rows * a->cols, bytes = n * sizeof(float), bias_bytes = a->cols * sizeof(float);
    float *dx = dev(&b, a->x, bytes), *dbi = dev(&b, a->bias, bias_bytes);
    float *ddo = dev(&b, a->dout, bytes), *ddb = dev(&b, NULL, bias_bytes);
    be->bias_add(be, dx, dbi, a->rows, a->cols);
    be->fill(be, ddb, NAN, a->cols); /* beta 0 ignores what was there */
    be->bias_grad(be, ddb, ddo, a->rows, a->cols, 0);
    get(&b, r->out[0], dx, bytes);
    get(&b, r->out[1], ddb, bias_bytes);
    be->bias_grad(be, ddb, dx, a->rows, a->cols, 1);
    get(&b, r->out[2], ddb, bias_bytes);
    bufs_release(&b);
}

static void check_bias(int rows, int cols, uint64_t *rng)
{
    size_t n = (size_t)rows * cols;
    float *x = random_floats(n, rng, -2, 2), *bias = random_floats(cols, rng, -1, 1);
    float *dout = random_floats(n, rng, -1, 1);
    struct bias_args a = {rows, cols, x, bias, dout};
    struct result r[2];
    run_both(backends, run_bias, &a, (const size_t[MAX_OUTS]){n, cols, cols}, r);
    ASSERT_SAME(r[GPU].out[0], r[CPU].out[0], n, "bias_add %dx%d", rows, cols);
    assert_close(r[GPU].out[1], r[CPU].out[1], cols, 1e-5, "bias_grad %dx%d", rows, cols);
    assert_close(r[GPU].out[2], r[CPU].out[2], cols, 1e-5, "bias_grad beta 1 %dx%d", rows, cols);
    for (int c = 0; c < cols && rows > 0; c++) { /* the CPU's own: the column sums of x + bias added */
        double sum = r[CPU].out[1][c];
        for (int row = 0; row < rows; row++)
            sum += r[CPU].out[0][(size_t)row * cols + c];
        ck_assert_msg(fabs(r[CPU].out[2][c] - sum) <= 1e-4 * (1 + fabs(sum)), "beta 1 col %d: %g vs %g", c,
                      r[CPU].out[2][c], sum);
    }
    results_free(r);
    free(x), free(bias), free(dout);
}

START_TEST(gpu_bias)
{
    for_each_shape(3, check_bias);
}
END_TEST

struct act_args {
    enum activation act;
    size_t n;
    const float *in, *dout;
};

/* out[0]: the activation, out of place; out[1]: its backward, in place
 * (din written over dout). */
static void run_act(struct backend *be, const void *args, struct result *r)
{
    const struct act_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = a->n * sizeof(float);
    float *d_in = dev(&b, a->in, bytes), *d_out = dev(&b, NULL, bytes), *d_grad = dev(&b, a->dout, bytes);
    be->act_forward(be, a->act, d_out, d_in, a->n);
    be->act_backward(be, a->act, d_grad, d_out, d_grad, a->n);
    get(&b, r->out[0], d_out, bytes);
    get(&b, r->out[1], d_grad, bytes);
    bufs_release(&b);
}

static void check_activations(int rows, int cols, uint64_t *rng)
{
    static const enum activation acts[] = {ACT_RELU, ACT_SIGMOID, ACT_TANH};
    size_t n = (size_t)rows * cols;
    float *in = random_floats(n, rng, -4, 4), *dout = random_floats(n, rng, -1, 1);
    in[0] = 0; /* relu's edge */
    for (int a = 0; a < 3; a++) {
        struct act_args args = {acts[a], n, in, dout};
        struct result r[2];
        run_both(backends, run_act, &args, (const size_t[MAX_OUTS]){n, n}, r);
        if (acts[a] == ACT_RELU) {
            ASSERT_SAME(r[GPU].out[0], r[CPU].out[0], n, "relu n=%zu", n);
            ASSERT_SAME(r[GPU].out[1], r[CPU].out[1], n, "relu backward n=%zu", n);
        }
        assert_close(r[GPU].out[0], r[CPU].out[0], n, 1e-5, "act %d n=%zu", a, n);
        assert_close(r[GPU].out[1], r[CPU].out[1], n, 1e-5, "act %d backward n=%zu", a, n);
        results_free(r);
    }
    free(in), free(dout);
}

START_TEST(gpu_activations)
{
    for_each_shape(4, check_activations);
}
END_TEST

struct dropout_args {
    size_t n;
    float prob;
    uint64_t step, first;
    const float *in, *other;
};

/* out[0]: dropout of in; out[1]: its mask; out[2]: mask * other. */
static void run_dropout(struct backend *be, const void *args, struct result *r)
{
    const struct dropout_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = a->n * sizeof(float);
    float *di = dev(&b, a->in, bytes), *dother = dev(&b, a->other, bytes);
    float *dout = dev(&b, NULL, bytes), *dmask = dev(&b, NULL, bytes), *dprod = dev(&b, NULL, bytes);
    uint64_t *dstep = dev(&b, &a->step, sizeof a->step);
    be->dropout_forward(be, dout, dmask, di, a->n, a->first, a->prob, 42, 3, dstep);
    be->mul(be, dprod, dmask, dother, a->n);
    get(&b, r->out[0], dout, bytes);
    get(&b, r->out[1], dmask, bytes);
    get(&b, r->out[2], dprod, bytes);
    bufs_release(&b);
}

START_TEST(gpu_dropout_and_mul)
{
    if (!backends[GPU])
        return;
    static const size_t sizes[] = {1, 5, 1000, 257 * 129, 600000};
    static const float probs[] = {0.0f, 0.2f, 0.5f, 0.9f};
    static const uint64_t steps[] = {0, 7, 1ull << 33};
    uint64_t rng = 5;
    for (size_t s = 0; s < 4; s++) {
        size_t n = sizes[s];
        float *in = random_floats(n, &rng, -1, 1), *other = random_floats(n, &rng, -1, 1);
        for (int q = 0; q < 4; q++) {
            for (int t = 0; t < 3; t++) {
                struct dropout_args a = {n, probs[q], steps[t], (uint64_t)t * 1237 /* a rank's slice */, in, other};
                struct result r[2];
                run_both(backends, run_dropout, &a, (const size_t[MAX_OUTS]){n, n, n}, r);
                ASSERT_SAME(r[GPU].out[1], r[CPU].out[1], n, "dropout mask n=%zu p=%g", n, probs[q]);
                ASSERT_SAME(r[GPU].out[0], r[CPU].out[0], n, "dropout out n=%zu p=%g", n, probs[q]);
                ASSERT_SAME(r[GPU].out[2], r[CPU].out[2], n, "mul n=%zu", n);
                results_free(r);
            }
        }
        free(in), free(other);
    }
}
END_TEST

struct softmax_args {
    int rows, cols;
    const float *in, *dout;
};

/* out[0]: the row softmax of in; out[1]: its backward for dout. */
static void run_softmax(struct backend *be, const void *args, struct result *r)
{
    const struct softmax_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = (size_t)a->rows * a->cols * sizeof(float);
    float *di = dev(&b, a->in, bytes), *ddout = dev(&b, a->dout, bytes);
    float *dout_s = dev(&b, NULL, bytes), *ddin = dev(&b, NULL, bytes);
    be->softmax_forward(be, dout_s, di, a->rows, a->cols);
    be->softmax_backward(be, ddin, dout_s, ddout, a->rows, a->cols);
    get(&b, r->out[0], dout_s, bytes);
    get(&b, r->out[1], ddin, bytes);
    bufs_release(&b);
}

static void check_softmax(int rows, int cols, uint64_t *rng)
{
    size_t n = (size_t)rows * cols;
    float *in = random_floats(n, rng, -20, 20), *dout = random_floats(n, rng, -1, 1);
    struct softmax_args a = {rows, cols, in, dout};
    struct result r[2];
    run_both(backends, run_softmax, &a, (const size_t[MAX_OUTS]){n, n}, r);
    assert_close(r[GPU].out[0], r[CPU].out[0], n, 1e-5, "softmax %dx%d", rows, cols);
    assert_close(r[GPU].out[1], r[CPU].out[1], n, 1e-5, "softmax backward %dx%d", rows, cols);
    results_free(r);
    free(in), free(dout);
}

START_TEST(gpu_softmax)
{
    for_each_shape(6, check_softmax);
}
END_TEST

/* out[0]: the centered layer's forward, x - its row mean. */
static void run_center(struct backend *be, const void *args, struct result *r)
{
    const struct softmax_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = (size_t)a->rows * a->cols * sizeof(float);
    float *di = dev(&b, a->in, bytes), *dout = dev(&b, NULL, bytes);
    be->center_rows(be, dout, di, a->rows, a->cols);
    get(&b, r->out[0], dout, bytes);
    bufs_release(&b);
}

static void check_center(int rows, int cols, uint64_t *rng)
{
    size_t n = (size_t)rows * cols;
    float *in = random_floats(n, rng, -20, 30);
    struct softmax_args a = {rows, cols, in, NULL};
    struct result r[2];
    run_both(backends, run_center, &a, (const size_t[MAX_OUTS]){n}, r);
    assert_close(r[GPU].out[0], r[CPU].out[0], n, 1e-5, "center_rows %dx%d", rows, cols);
    for (int row = 0; row < rows; row++) { /* each row now has mean 0 */
        double sum = 0;
        for (int c = 0; c < cols; c++)
            sum += r[CPU].out[0][(size_t)row * cols + c];
        ck_assert_msg(fabs(sum / cols) < 1e-4, "row %d mean %g", row, sum / cols);
    }
    results_free(r);
    free(in);
}

START_TEST(gpu_center_rows)
{
    for_each_shape(8, check_center);
}
END_TEST

enum class_loss { CLASS_CROSS_ENTROPY, CLASS_NLL };

struct class_loss_args {
    enum class_loss kind;
    int rows, cols;
    const float *x, *labels;
};

/* One classification loss into acc, with its gradient as out[0] when
 * asked for one. */
static void run_class_loss(struct backend *be, const void *args, struct result *r)
{
    const struct class_loss_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = (size_t)a->rows * a->cols * sizeof(float);
    float *dx = dev(&b, a->x, bytes), *dl = dev(&b, a->labels, a->rows * sizeof(float));
    float *dg = r->out[0] ? dev(&b, NULL, bytes) : NULL;
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    if (a->kind == CLASS_CROSS_ENTROPY)
        be->cross_entropy(be, dg, dacc, dx, dl, a->rows, a->cols, 1.0f / a->rows);
    else
        be->nll(be, dg, dacc, dx, dl, a->rows, a->cols, 1.0f / a->rows);
    if (dg)
        get(&b, r->out[0], dg, bytes);
    get(&b, r->acc, dacc, sizeof acc_start);
    bufs_release(&b);
}

/* Random rows, every 7th row constant (argmax ties go to index 0), labels
 * 0 on every 3rd row so ties count; nll gets probabilities. */
static void class_inputs(float *x, float *labels, int rows, int cols, bool probabilities, uint64_t *rng)
{
    test_fill_uniform(x, (size_t)rows * cols, rng, -6, 6);
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * cols;
        if (r % 7 == 0)
            for (int c = 1; c < cols; c++)
                row[c] = row[0];
        labels[r] = r % 3 == 0 ? 0.0f : (float)(test_rand_u64(rng) % (uint64_t)cols);
        if (probabilities) {
            double sum = 0;
            for (int c = 0; c < cols; c++)
                sum += row[c] = expf(row[c] / 3);
            for (int c = 0; c < cols; c++)
                row[c] = (float)(row[c] / sum);
        }
    }
}

static void check_class_loss(enum class_loss kind)
{
    if (!backends[GPU])
        return;
    const char *name = kind == CLASS_CROSS_ENTROPY ? "cross_entropy" : "nll";
    uint64_t rng = 7 + kind;
    for (size_t s = 0; s < N_SHAPES; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        float *x = host_floats(n), *labels = host_floats(rows);
        class_inputs(x, labels, rows, cols, kind == CLASS_NLL, &rng);
        struct class_loss_args a = {kind, rows, cols, x, labels};
        check_loss(run_class_loss, &a, n, name, rows, cols, "%s grad %dx%d", name, rows, cols);
        free(x), free(labels);
    }
}

START_TEST(gpu_cross_entropy)
{
    check_class_loss(CLASS_CROSS_ENTROPY);
}
END_TEST

START_TEST(gpu_nll)
{
    check_class_loss(CLASS_NLL);
}
END_TEST

struct regression_args {
    enum regression_loss kind;
    int rows, cols;
    const float *pred, *target;
};

/* One regression loss, then log_sq_error, into acc; the loss's gradient
 * as out[0] when asked for one. */
static void run_regression(struct backend *be, const void *args, struct result *r)
{
    const struct regression_args *a = args;
    struct bufs b = {.be = be};
    size_t n = (size_t)a->rows * a->cols, bytes = n * sizeof(float);
    float *dp = dev(&b, a->pred, bytes), *dt = dev(&b, a->target, bytes);
    float *dg = r->out[0] ? dev(&b, NULL, bytes) : NULL;
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    be->regression_loss(be, a->kind, dg, dacc, dp, dt, a->rows, a->cols, 1.5f, 0.5f);
    be->log_sq_error(be, dacc, dp, dt, (int)n);
    if (dg)
        get(&b, r->out[0], dg, bytes);
    get(&b, r->acc, dacc, sizeof acc_start);
    bufs_release(&b);
}

/* Each regression loss and log_sq_error; predictions straddle 1 (the
 * log clamp) and residuals straddle Huber's delta. */
static void check_regression(int rows, int cols, uint64_t *rng)
{
    static const enum regression_loss kinds[] = {RLOSS_MSE, RLOSS_SQUARED, RLOSS_HUBER, RLOSS_L1};
    size_t n = (size_t)rows * cols;
    float *pred = random_floats(n, rng, 0.25, 4), *target = random_floats(n, rng, 1, 4);
    if (n > 1)
        pred[1] = target[1]; /* L1's zero residual */
    for (int k = 0; k < 4; k++) {
        struct regression_args a = {kinds[k], rows, cols, pred, target};
        check_loss(run_regression, &a, n, "regression", rows, cols, "regression %d grad %dx%d", k, rows, cols);
    }
    free(pred), free(target);
}

START_TEST(gpu_regression)
{
    for_each_shape(9, check_regression);
}
END_TEST

struct penalty_args {
    bool l1;
    size_t n;
    const float *w, *grad_in;
};

/* The L1 or L2 penalty of w into acc; with out[0] asked for, its gradient
 * added to grad_in. */
static void run_penalty(struct backend *be, const void *args, struct result *r)
{
    const struct penalty_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = a->n * sizeof(float);
    float *dw = dev(&b, a->w, bytes);
    float *dg = r->out[0] ? dev(&b, a->grad_in, bytes) : NULL;
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    be->penalty(be, a->l1, dg, dacc, dw, a->n, 0.3f, 0.25f, 64.0f);
    if (dg)
        get(&b, r->out[0], dg, bytes);
    get(&b, r->acc, dacc, sizeof acc_start);
    bufs_release(&b);
}

static void check_penalty(int rows, int cols, uint64_t *rng)
{
    size_t n = (size_t)rows * cols;
    float *w = random_floats(n, rng, -1, 1), *grad_in = random_floats(n, rng, -1, 1);
    w[0] = 0; /* sign(0) = 0 */
    for (int l1 = 0; l1 < 2; l1++) {
        struct penalty_args a = {l1, n, w, grad_in};
        check_loss(run_penalty, &a, n, "penalty", (int)n, 1, "penalty l1=%d n=%zu", l1, n);
    }
    free(w), free(grad_in);
}

START_TEST(gpu_penalty)
{
    for_each_shape(10, check_penalty);
}
END_TEST

struct clip_args {
    size_t n;
    const float *g;
    float max_norm;
};

/* sum_squares of g added to acc[0] (which starts at 1.5), then clip_scale by it
 * into out[0]. */
static void run_clip(struct backend *be, const void *args, struct result *r)
{
    const struct clip_args *a = args;
    struct bufs b = {.be = be};
    size_t bytes = a->n * sizeof(float);
    float *dg = dev(&b, a->g, bytes);
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    be->sum_squares(be, dacc, dg, a->n);
    be->clip_scale(be, dg, a->n, dacc, a->max_norm);
    get(&b, r->out[0], dg, bytes);
    get(&b, r->acc, dacc, sizeof acc_start);
    bufs_release(&b);
}

static void check_clip(int rows, int cols, uint64_t *rng)
{
    size_t n = (size_t)rows * cols;
    float *g = random_floats(n, rng, -1, 1);
    double sq = acc_start[0];
    for (size_t i = 0; i < n; i++)
        sq += (double)g[i] * g[i];
    /* one max_norm that scales, one that leaves g alone */
    const float max_norms[2] = {(float)sqrt(sq) / 2, (float)sqrt(sq) * 2};
    for (int k = 0; k < 2; k++) {
        struct clip_args a = {n, g, max_norms[k]};
        struct result r[2];
        run_both(backends, run_clip, &a, (const size_t[MAX_OUTS]){n}, r);
        ck_assert_msg(fabs(r[GPU].acc[0] - sq) <= 1e-9 * sq, "sum_squares n=%zu: %.17g want %.17g", n,
                      r[GPU].acc[0], sq);
        assert_close(r[GPU].out[0], r[CPU].out[0], n, 1e-6, "clip_scale n=%zu max_norm=%g", n, max_norms[k]);
        if (k == 1)
            ASSERT_SAME(r[GPU].out[0], g, n, "clip_scale under max_norm");
        results_free(r);
    }
    free(g);
}

START_TEST(gpu_clip)
{
    for_each_shape(14, check_clip);
}
END_TEST

struct gather_args {
    int n_src, rows, cols;
    const uint8_t *xu8;
    const float *xf;
    const int32_t *idx;
};

/* out[0]: gather_u8 (scaled by 1/255); out[1]: gather_f32; the same rows. */
static void run_gather(struct backend *be, const void *args, struct result *r)
{
    const struct gather_args *a = args;
    struct bufs b = {.be = be};
    size_t src = (size_t)a->n_src * a->cols, out = (size_t)a->rows * a->cols * sizeof(float);
    uint8_t *dxu8 = dev(&b, a->xu8, src);
    float *dxf = dev(&b, a->xf, src * sizeof(float));
    int32_t *didx = dev(&b, a->idx, a->rows * sizeof(int32_t));
    float *dou8 = dev(&b, NULL, out), *dof = dev(&b, NULL, out);
    be->gather_u8(be, dou8, dxu8, didx, a->rows, a->cols, 1.0f / 255);
    be->gather_f32(be, dof, dxf, didx, a->rows, a->cols);
    get(&b, r->out[0], dou8, out);
    get(&b, r->out[1], dof, out);
    bufs_release(&b);
}

static void check_gather(int rows, int cols, uint64_t *rng)
{
    int n_src = 300;
    size_t src = (size_t)n_src * cols, n = (size_t)rows * cols;
    uint8_t *xu8 = malloc(src);
    ck_assert_ptr_nonnull(xu8);
    for (size_t i = 0; i < src; i++)
        xu8[i] = (uint8_t)test_rand_u64(rng);
    float *xf = random_floats(src, rng, -3, 3);
    int32_t *idx = malloc((size_t)rows * sizeof *idx);
    ck_assert_ptr_nonnull(idx);
    for (int r = 0; r < rows; r++) /* repeats allowed; the last source row included */
        idx[r] = r == 0 ? n_src - 1 : (int32_t)(test_rand_u64(rng) % (uint64_t)n_src);
    struct gather_args a = {n_src, rows, cols, xu8, xf, idx};
    struct result r[2];
    run_both(backends, run_gather, &a, (const size_t[MAX_OUTS]){n, n}, r);
    ASSERT_SAME(r[GPU].out[0], r[CPU].out[0], n, "gather_u8 %dx%d", rows, cols);
    ASSERT_SAME(r[GPU].out[1], r[CPU].out[1], n, "gather_f32 %dx%d", rows, cols);
    results_free(r);
    free(xu8), free(xf), free(idx);
}

START_TEST(gpu_gather)
{
    for_each_shape(11, check_gather);
}
END_TEST

enum optimizer { OPT_TEST_SGD, OPT_TEST_SGD_MOMENTUM, OPT_TEST_ADAM };

struct optimizer_args {
    enum optimizer opt;
    float wd;
    size_t n;
    const float *p0, *grads; /* grads: five steps' worth */
};

/* Five steps with fresh gradients each, the step counter advanced on the
 * device as training does; out: p, m (momentum buffer) and v. */
static void run_optimizer(struct backend *be, const void *args, struct result *r)
{
    const struct optimizer_args *a = args;
    struct bufs b = {.be = be};
    size_t n = a->n, bytes = n * sizeof(float);
    float *zero = host_floats(n);
    memset(zero, 0, bytes);
    uint64_t step = 0;
    const float rates[2] = {0.01f, 0.1f}; /* adam, sgd */
    float *dlr = dev(&b, rates, sizeof rates);
    float *dp = dev(&b, a->p0, bytes), *dm = dev(&b, zero, bytes);
    float *dv = dev(&b, zero, bytes), *dg = dev(&b, NULL, bytes);
    uint64_t *dstep = dev(&b, &step, sizeof step);
    for (int it = 0; it < 5; it++) {
        be->upload(be, dg, a->grads + (size_t)it * n, bytes);
        if (a->opt == OPT_TEST_ADAM)
            be->adam_step(be, dp, dg, dm, dv, n, &dlr[0], 0.9f, 0.999f, 1e-8f, a->wd, dstep);
        else
            be->sgd_step(be, dp, dg, dm, n, &dlr[1], a->opt == OPT_TEST_SGD_MOMENTUM ? 0.9f : 0.0f, a->wd);
        be->step_advance(be, dstep);
    }
    get(&b, r->out[0], dp, bytes);
    get(&b, r->out[1], dm, bytes);
    get(&b, r->out[2], dv, bytes);
    free(zero);
    bufs_release(&b);
}

START_TEST(gpu_optimizers)
{
    if (!backends[GPU])
        return;
    static const char *names[] = {"sgd", "sgd momentum", "adam"};
    static const float decays[] = {0.0f, 1e-3f};
    uint64_t rng = 12;
    size_t n = 257 * 129 + 10;
    float *p0 = random_floats(n, &rng, -1, 1), *grads = random_floats(5 * n, &rng, -1, 1);
    for (int opt = 0; opt < 3; opt++) {
        for (int d = 0; d < 2; d++) {
            struct optimizer_args a = {opt, decays[d], n, p0, grads};
            struct result r[2];
            run_both(backends, run_optimizer, &a, (const size_t[MAX_OUTS]){n, n, n}, r);
            for (int j = 0; j < 3; j++)
                assert_close(r[GPU].out[j], r[CPU].out[j], n, 1e-5, "%s wd=%g buffer %d", names[opt], decays[d],
                             j);
            results_free(r);
        }
    }
    free(p0), free(grads);
}
END_TEST

/* A small training step: linear layer, relu, dropout, cross-entropy, SGD,
 * step counter. Everything lives in device buffers, so a replay sees new
 * data and a new step (new dropout mask). */
struct step_state {
    struct backend *be;
    int rows, in, out;
    float *x, *w, *bias, *h, *mask, *dh, *dw, *db, *labels;
    float *velocity; /* unread: momentum 0 */
    double *acc;
    uint64_t *step;
    float *lr; /* changed between replays, as a schedule does */
};

static void step_body(void *arg)
{
    struct step_state *s = arg;
    struct backend *be = s->be;
    be->gemm(be, false, false, s->rows, s->out, s->in, 1.0f, s->x, s->in, s->w, s->out, 0.0f, s->h, s->out);
    be->bias_add(be, s->h, s->bias, s->rows, s->out);
    be->act_forward(be, ACT_RELU, s->h, s->h, (size_t)s->rows * s->out);
    be->dropout_forward(be, s->h, s->mask, s->h, (size_t)s->rows * s->out, 0, 0.3f, 9, 1, s->step);
    be->cross_entropy(be, s->dh, s->acc, s->h, s->labels, s->rows, s->out, 1.0f / s->rows);
    be->mul(be, s->dh, s->dh, s->mask, (size_t)s->rows * s->out);
    be->gemm(be, true, false, s->in, s->out, s->rows, 1.0f, s->x, s->in, s->dh, s->out, 0.0f, s->dw, s->out);
    be->bias_grad(be, s->db, s->dh, s->rows, s->out, 0);
    be->sgd_step(be, s->w, s->dw, s->velocity, (size_t)s->in * s->out, s->lr, 0.0f, 0.0f);
    be->sgd_step(be, s->bias, s->db, s->velocity, (size_t)s->out, s->lr, 0.0f, 0.0f);
    be->step_advance(be, s->step);
}

/* Runs three steps, each on new inputs and a new learning rate, through graph_run (key >= 0) or by
 * direct calls; returns the weights, the last mask and the accumulator. */
static void run_steps(struct backend *be, int key, const float *x, const float *labels, const float *w0,
                      float *w, float *mask, double *acc)
{
    struct bufs b = {.be = be};
    struct step_state s = {.be = be, .rows = 67, .in = 40, .out = 10};
    size_t xn = (size_t)s.rows * s.in, hn = (size_t)s.rows * s.out, wn = (size_t)s.in * s.out;
    float zeros[10] = {0};
    uint64_t step = 0;
    s.x = dev(&b, x, xn * sizeof(float));
    s.labels = dev(&b, labels, s.rows * sizeof(float));
    s.w = dev(&b, w0, wn * sizeof(float));
    s.bias = dev(&b, zeros, sizeof zeros);
    s.h = dev(&b, NULL, hn * sizeof(float));
    s.mask = dev(&b, NULL, hn * sizeof(float));
    s.dh = dev(&b, NULL, hn * sizeof(float));
    s.dw = dev(&b, NULL, wn * sizeof(float));
    s.db = dev(&b, NULL, sizeof zeros);
    s.velocity = dev(&b, NULL, wn * sizeof(float));
    s.acc = dev(&b, acc_start, sizeof acc_start);
    s.step = dev(&b, &step, sizeof step);
    s.lr = dev(&b, NULL, sizeof(float));
    for (int it = 0; it < 3; it++) {
        float lr = 0.5f / (float)(1 << it);
        be->upload(be, s.lr, &lr, sizeof lr);
        be->upload(be, s.x, x + it * xn, xn * sizeof(float));
        be->upload(be, s.labels, labels + it * s.rows, s.rows * sizeof(float));
        if (key >= 0)
            be->graph_run(be, key, step_body, &s);
        else
            step_body(&s);
    }
    get(&b, w, s.w, wn * sizeof(float));
    get(&b, mask, s.mask, hn * sizeof(float));
    get(&b, acc, s.acc, sizeof acc_start);
    bufs_release(&b);
}

START_TEST(gpu_graph_replay)
{
    struct backend *cpu = backends[CPU], *gpu = backends[GPU];
    if (!gpu)
        return;
    uint64_t rng = 13;
    int rows = 67, in = 40, out = 10;
    float *x = random_floats(3 * (size_t)rows * in, &rng, -1, 1), *labels = host_floats(3 * rows);
    float *w0 = random_floats((size_t)in * out, &rng, -0.5, 0.5);
    for (int r = 0; r < 3 * rows; r++)
        labels[r] = (float)(test_rand_u64(&rng) % (uint64_t)out);
    float *w[3], *mask[3];
    double acc[3][ACC_SLOTS];
    for (int i = 0; i < 3; i++)
        w[i] = host_floats((size_t)in * out), mask[i] = host_floats((size_t)rows * out);
    run_steps(cpu, -1, x, labels, w0, w[0], mask[0], acc[0]);
    run_steps(gpu, -1, x, labels, w0, w[1], mask[1], acc[1]);
    run_steps(gpu, 7, x, labels, w0, w[2], mask[2], acc[2]);
    /* recorded and direct calls: the same kernels on the same data */
    assert_close(w[2], w[1], (size_t)in * out, 1e-6, "graph vs direct weights");
    ASSERT_SAME(mask[2], mask[1], (size_t)rows * out, "graph vs direct dropout mask");
    assert_acc_close(acc[2], acc[1], "graph vs direct", rows, out);
    /* every row of the 3 steps counted once; and both follow the CPU */
    ck_assert_double_eq(acc[2][ACC_COUNT], acc_start[ACC_COUNT] + 3 * rows);
    assert_close(w[1], w[0], (size_t)in * out, 1e-4, "gpu vs cpu weights");
    ASSERT_SAME(mask[1], mask[0], (size_t)rows * out, "gpu vs cpu dropout mask");
    assert_acc_close(acc[1], acc[0], "gpu vs cpu", rows, out);
    for (int i = 0; i < 3; i++)
        free(w[i]), free(mask[i]);
    free(x), free(labels), free(w0);
}
END_TEST

static void advance_body(void *arg)
{
    struct step_state *s = arg;
    s->be->step_advance(s->be, s->step);
}

/* More keys than the graph table holds: old records are dropped, and every
 * key, new, recent or dropped, still runs its body exactly once per call. */
START_TEST(gpu_graph_many_keys)
{
    struct backend *gpu = backends[GPU];
    if (!gpu)
        return;
    struct bufs b = {.be = gpu};
    uint64_t zero = 0, step;
    struct step_state s = {.be = gpu, .step = dev(&b, &zero, sizeof zero)};
    for (int key = 100; key < 140; key++)
        gpu->graph_run(gpu, key, advance_body, &s);
    gpu->graph_run(gpu, 139, advance_body, &s); /* replayed */
    gpu->graph_run(gpu, 100, advance_body, &s); /* recorded again */
    get(&b, &step, s.step, sizeof step);
    ck_assert_uint_eq(step, 42);
    bufs_release(&b);
}
END_TEST

START_TEST(gpu_alloc_too_big)
{
    struct backend *gpu = backends[GPU];
    if (!gpu || harness_on_cpu())
        return;
    struct err e = {0};
    size_t tib = (size_t)1 << 40;
    void *big = gpu->alloc(gpu, tib, &e);
    ck_assert_ptr_null(big);
    ck_assert_int_eq(e.code, EXIT_RUNTIME);
    ck_assert_msg(strstr(e.msg, "out of GPU memory: asked for 1099511627776 bytes (1048576.0 MiB)"), "%s",
                  e.msg);
    ck_assert_msg(strstr(e.msg, "MiB free of"), "%s", e.msg);
    /* the failure left no sticky error behind: the backend still works */
    struct bufs b = {.be = gpu};
    float one = 0;
    float *d = dev(&b, NULL, sizeof one);
    gpu->fill(gpu, d, 1.0f, 1);
    get(&b, &one, d, sizeof one);
    ck_assert_float_eq(one, 1.0f);
    bufs_release(&b);
}
END_TEST

/* Runs without a GPU too: asking for one that is not there is an error
 * with a reason, never a crash; and cuBLAS loads. */
START_TEST(gpu_missing_device_reported)
{
    int n = cuda_device_count();
    ck_assert_int_ge(n, 0);
    struct err e = {0};
    struct backend *be = cuda_backend_create(n, false, &e); /* one past the last */
    ck_assert_ptr_null(be);
    ck_assert_int_eq(e.code, EXIT_RUNTIME);
    if (n == 0)
        ck_assert_msg(strstr(e.msg, "device cuda:0: no usable GPU: ") == e.msg, "%s", e.msg);
    else
        ck_assert_msg(strstr(e.msg, "visible"), "%s", e.msg);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    cuda_print_info(f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(strstr(text, "cuda: runtime "), "%s", text);
    /* cuBLAS is opened with dlopen: every entry point found, GPU or not */
    const char *blas = strstr(text, ", cuBLAS ");
    ck_assert_msg(blas && blas[9] >= '1' && blas[9] <= '9', "cuBLAS did not load: %s", text);
    ck_assert_msg(n > 0 ? strstr(text, "cuda:0: ") != NULL : strstr(text, "no GPU: ") != NULL, "%s", text);
    free(text);
}
END_TEST

/* The op tests, for suite_gpu and the check that they are skipped. */
#define GPU_OP_TESTS_MAX 32
static int gpu_op_tests(const TTest *out[GPU_OP_TESTS_MAX])
{
    const TTest *const all[] = {gpu_fill_and_step, gpu_gemm,         gpu_gemm_tf32,       gpu_linear_forward, gpu_bias,
                                gpu_activations,   gpu_dropout_and_mul, gpu_softmax,      gpu_center_rows,
                                gpu_cross_entropy, gpu_nll,          gpu_regression,      gpu_penalty,       gpu_clip,
                                gpu_gather,        gpu_optimizers,   gpu_graph_replay,    gpu_graph_many_keys,
                                gpu_alloc_too_big};
    _Static_assert(sizeof all / sizeof all[0] <= GPU_OP_TESTS_MAX, "GPU_OP_TESTS_MAX is too small");
    int n = (int)(sizeof all / sizeof all[0]);
    for (int i = 0; i < n; i++)
        out[i] = all[i];
    return n;
}

/* Without a GPU the op tests are reported as skipped and not counted as
 * passes (they returned before any assertion and counted in "Checks: 17"). */
START_TEST(gpu_tests_without_gpu_are_skipped_not_passed)
{
    struct proc_result r = run_shell("env -u D2L_GPU_SUITE_ON_CPU CK_RUN_SUITE=gpu CK_RUN_CASE=ops /proc/$PPID/exe");
    ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
    const TTest *op_tests[GPU_OP_TESTS_MAX];
    int n = gpu_op_tests(op_tests);
    char skipped[64], checks[64];
    snprintf(skipped, sizeof skipped, "skipped: %d tests (no GPU)\n", n);
    snprintf(checks, sizeof checks, "100%%: Checks: %d,", n);
    if (cuda_device_count() == 0)
        ck_assert_msg(strstr(r.out, "Checks: 0,") && strstr(r.out, skipped), "%s", r.out);
    else
        ck_assert_msg(strstr(r.out, checks) && !strstr(r.out, "skipped:"), "%s", r.out);
    proc_result_free(&r);
}
END_TEST

/* Whether a GPU is there, asked in a child process: CUDA initialised here
 * would not survive the fork() of each test. */
static bool gpu_present(void)
{
    pid_t child = fork();
    if (child == 0)
        _exit(cuda_device_count() > 0 ? 0 : 1);
    int status;
    return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

Suite *suite_gpu(void)
{
    Suite *s = suite_create("gpu");
#ifdef D2L_CUDA
    TCase *tc = tcase_create("gpu");
    tcase_set_timeout(tc, 120); /* a CUDA context per test, and cuBLAS's first load */
    tcase_add_test(tc, gpu_missing_device_reported);
    tcase_add_test(tc, gpu_tests_without_gpu_are_skipped_not_passed);
    suite_add_tcase(s, tc);
    /* The op tests' fixture opens both backends; the device query above
     * must run without it. */
    const TTest *op_tests[GPU_OP_TESTS_MAX];
    int n = gpu_op_tests(op_tests);
    /* Without a GPU the op tests are not added (they would pass without
     * an assertion), unless the CPU takes the GPU's seat. A TCase is made
     * only to be added: one left out of its suite would leak. */
    if (!harness_on_cpu() && !gpu_present()) {
        tests_skipped("gpu", n, "no GPU");
        return s;
    }
    TCase *ops = tcase_create("ops");
    tcase_set_timeout(ops, 120);
    tcase_add_checked_fixture(ops, open_backends, close_backends);
    for (int i = 0; i < n; i++)
        tcase_add_test(ops, op_tests[i]);
    suite_add_tcase(s, ops);
#else
    tests_skipped("gpu", 1, "the GPU suite: built without CUDA (GPU=0)");
#endif
    return s;
}
