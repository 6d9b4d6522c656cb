/* The CUDA backend against the CPU backend, op by op, on the same random
 * inputs: several shapes (one row, sizes that are not multiples of 32),
 * outputs poisoned with NaN first so an element left unwritten fails.
 * Errors are max |gpu - cpu| / max |cpu|; ops that are one IEEE operation
 * per element (fill, bias add, products, dropout, gathers, relu) must match
 * exactly. Also: graph replays equal direct calls, a huge alloc fails with
 * the "out of GPU memory" message, a missing GPU is reported, not fatal.
 *
 * Without a GPU each test prints "SKIP: no GPU" and passes; a build without
 * CUDA has one test that prints "SKIP: built without CUDA". The suite forks
 * per test (Check's default) and CUDA is first touched inside each test, as
 * a CUDA context does not survive fork(). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/backend.h"
#include "testutil.h"

#ifdef D2L_CUDA
#include "../gpu/cuda_backend.h"

/* Shapes (rows, cols) every row-wise op is run on. */
static const int shapes[][2] = {{1, 1}, {1, 10}, {3, 33}, {256, 10}, {257, 129}, {64, 784}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

struct pair {
    struct backend *cpu, *gpu;
};

/* Both backends, or false (after printing why) when there is no GPU. */
static bool pair_open(struct pair *p)
{
    if (cuda_device_count() == 0) {
        printf("SKIP: no GPU\n");
        fflush(stdout);
        return false;
    }
    struct err e = {0};
    p->cpu = test_cpu_backend();
    p->gpu = cuda_backend_create(0, false, &e);
    ck_assert_msg(p->gpu != NULL, "cuda_backend_create: %s", e.msg);
    return true;
}

static void pair_close(struct pair *p)
{
    p->cpu->destroy(p->cpu);
    p->gpu->destroy(p->gpu);
}

/* Device buffers of one backend, released together. */
#define MAX_BUFS 16
struct bufs {
    struct backend *be;
    void *p[MAX_BUFS];
    int n;
};

/* A device copy of host[0, bytes); host NULL: filled with NaN bytes. */
static void *dev(struct bufs *b, const void *host, size_t bytes)
{
    struct err e = {0};
    ck_assert_int_lt(b->n, MAX_BUFS);
    void *p = b->be->alloc(b->be, bytes, &e);
    ck_assert_msg(p != NULL, "alloc %zu: %s", bytes, e.msg);
    b->p[b->n++] = p;
    if (host) {
        b->be->upload(b->be, p, host, bytes);
    } else {
        unsigned char *poison = malloc(bytes ? bytes : 1);
        ck_assert_ptr_nonnull(poison);
        memset(poison, 0xff, bytes); /* 0xffffffff is a NaN as float, 0xff..ff as double */
        b->be->upload(b->be, p, poison, bytes);
        free(poison);
    }
    return p;
}

static void get(struct bufs *b, void *host, const void *device, size_t bytes)
{
    b->be->download(b->be, host, device, bytes);
}

static void bufs_release(struct bufs *b)
{
    for (int i = 0; i < b->n; i++)
        b->be->release(b->be, b->p[i]);
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

START_TEST(gpu_fill_and_step)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    size_t n = 1000;
    float x[1000];
    double d[5];
    uint64_t step = 0;
    struct bufs b = {.be = p.gpu};
    float *dx = dev(&b, NULL, n * sizeof *x);
    double *dd = dev(&b, NULL, sizeof d);
    uint64_t *ds = dev(&b, &step, sizeof step);
    p.gpu->fill(p.gpu, dx, 3.5f, n);
    p.gpu->fill_f64(p.gpu, dd, -0.25, 5);
    for (int i = 0; i < 3; i++)
        p.gpu->step_advance(p.gpu, ds);
    get(&b, x, dx, sizeof x);
    get(&b, d, dd, sizeof d);
    get(&b, &step, ds, sizeof step);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(x[i], 3.5f);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(d[i], -0.25);
    ck_assert_uint_eq(step, 3);
    bufs_release(&b);
    pair_close(&p);
}
END_TEST

/* C = alpha op(A) op(B) + beta C with leading dimensions wider than the
 * matrices, on one backend. */
static void run_gemm(struct backend *be, bool ta, bool tb, int m, int n, int k, const float *a,
                     const float *bm, float *c, int lda, int ldb, int ldc)
{
    struct bufs b = {.be = be};
    size_t a_bytes = (size_t)(ta ? k : m) * lda * sizeof(float);
    size_t b_bytes = (size_t)(tb ? n : k) * ldb * sizeof(float);
    size_t c_bytes = (size_t)m * ldc * sizeof(float);
    float *da = dev(&b, a, a_bytes), *db = dev(&b, bm, b_bytes), *dc = dev(&b, c, c_bytes);
    be->gemm(be, ta, tb, m, n, k, 0.7f, da, lda, db, ldb, 0.3f, dc, ldc);
    get(&b, c, dc, c_bytes);
    bufs_release(&b);
}

START_TEST(gpu_gemm)
{
    struct pair p;
    if (!pair_open(&p))
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
            float *c_cpu = random_floats(c_n, &rng, -1, 1), *c_gpu = host_floats(c_n);
            memcpy(c_gpu, c_cpu, c_n * sizeof *c_gpu);
            run_gemm(p.cpu, ta, tb, m, n, k, a, bm, c_cpu, lda, ldb, ldc);
            run_gemm(p.gpu, ta, tb, m, n, k, a, bm, c_gpu, lda, ldb, ldc);
            assert_close(c_gpu, c_cpu, c_n, 1e-4, "gemm ta=%d tb=%d %dx%dx%d", ta, tb, m, n, k);
            free(a);
            free(bm);
            free(c_cpu);
            free(c_gpu);
        }
    }
    pair_close(&p);
}
END_TEST

/* The TF32 backend is a different, coarser GEMM: near, not equal. */
START_TEST(gpu_gemm_tf32)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    struct err e = {0};
    struct backend *tf32 = cuda_backend_create(0, true, &e);
    ck_assert_msg(tf32 != NULL, "%s", e.msg);
    int m = 128, n = 96, k = 512;
    uint64_t rng = 2;
    float *a = random_floats((size_t)m * k, &rng, -1, 1), *bm = random_floats((size_t)k * n, &rng, -1, 1);
    float *c_cpu = random_floats((size_t)m * n, &rng, -1, 1), *c_gpu = host_floats((size_t)m * n);
    memcpy(c_gpu, c_cpu, (size_t)m * n * sizeof *c_gpu);
    run_gemm(p.cpu, false, false, m, n, k, a, bm, c_cpu, k, n, n);
    run_gemm(tf32, false, false, m, n, k, a, bm, c_gpu, k, n, n);
    assert_close(c_gpu, c_cpu, (size_t)m * n, 1e-2, "tf32 gemm");
    tf32->destroy(tf32);
    free(a);
    free(bm);
    free(c_cpu);
    free(c_gpu);
    pair_close(&p);
}
END_TEST

static void run_bias(struct backend *be, int rows, int cols, const float *x, const float *bias,
                     const float *dout, float *out, float *dbias)
{
    struct bufs b = {.be = be};
    size_t n = (size_t)rows * cols;
    float *dx = dev(&b, x, n * sizeof *x), *dbi = dev(&b, bias, cols * sizeof *bias);
    float *ddo = dev(&b, dout, n * sizeof *dout), *ddb = dev(&b, NULL, cols * sizeof *dbias);
    be->bias_add(be, dx, dbi, rows, cols);
    be->bias_grad(be, ddb, ddo, rows, cols);
    get(&b, out, dx, n * sizeof *out);
    get(&b, dbias, ddb, cols * sizeof *dbias);
    bufs_release(&b);
}

START_TEST(gpu_bias)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    uint64_t rng = 3;
    for (size_t s = 0; s < N_SHAPES; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        float *x = random_floats(n, &rng, -2, 2), *bias = random_floats(cols, &rng, -1, 1);
        float *dout = random_floats(n, &rng, -1, 1);
        float *out[2] = {host_floats(n), host_floats(n)}, *db[2] = {host_floats(cols), host_floats(cols)};
        run_bias(p.cpu, rows, cols, x, bias, dout, out[0], db[0]);
        run_bias(p.gpu, rows, cols, x, bias, dout, out[1], db[1]);
        ASSERT_SAME(out[1], out[0], n, "bias_add %dx%d", rows, cols);
        assert_close(db[1], db[0], cols, 1e-5, "bias_grad %dx%d", rows, cols);
        free(x), free(bias), free(dout);
        for (int i = 0; i < 2; i++)
            free(out[i]), free(db[i]);
    }
    pair_close(&p);
}
END_TEST

/* Forward out of place, backward in place (din written over dout). */
static void run_act(struct backend *be, enum activation act, size_t n, const float *in,
                    const float *dout, float *out, float *din)
{
    struct bufs b = {.be = be};
    size_t bytes = n * sizeof(float);
    float *d_in = dev(&b, in, bytes), *d_out = dev(&b, NULL, bytes), *d_grad = dev(&b, dout, bytes);
    be->act_forward(be, act, d_out, d_in, n);
    be->act_backward(be, act, d_grad, d_out, d_grad, n);
    get(&b, out, d_out, bytes);
    get(&b, din, d_grad, bytes);
    bufs_release(&b);
}

START_TEST(gpu_activations)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    static const enum activation acts[] = {ACT_RELU, ACT_SIGMOID, ACT_TANH};
    uint64_t rng = 4;
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t n = (size_t)shapes[s][0] * shapes[s][1];
        float *in = random_floats(n, &rng, -4, 4), *dout = random_floats(n, &rng, -1, 1);
        in[0] = 0; /* relu's edge */
        for (int a = 0; a < 3; a++) {
            float *out[2] = {host_floats(n), host_floats(n)}, *din[2] = {host_floats(n), host_floats(n)};
            run_act(p.cpu, acts[a], n, in, dout, out[0], din[0]);
            run_act(p.gpu, acts[a], n, in, dout, out[1], din[1]);
            if (acts[a] == ACT_RELU) {
                ASSERT_SAME(out[1], out[0], n, "relu n=%zu", n);
                ASSERT_SAME(din[1], din[0], n, "relu backward n=%zu", n);
            }
            assert_close(out[1], out[0], n, 1e-5, "act %d n=%zu", a, n);
            assert_close(din[1], din[0], n, 1e-5, "act %d backward n=%zu", a, n);
            for (int i = 0; i < 2; i++)
                free(out[i]), free(din[i]);
        }
        free(in), free(dout);
    }
    pair_close(&p);
}
END_TEST

static void run_dropout(struct backend *be, size_t n, float prob, uint64_t step, const float *in,
                        const float *other, float *out, float *mask, float *product)
{
    struct bufs b = {.be = be};
    float *di = dev(&b, in, n * sizeof *in), *dother = dev(&b, other, n * sizeof *other);
    float *dout = dev(&b, NULL, n * sizeof *out), *dmask = dev(&b, NULL, n * sizeof *mask);
    float *dprod = dev(&b, NULL, n * sizeof *product);
    uint64_t *dstep = dev(&b, &step, sizeof step);
    be->dropout_forward(be, dout, dmask, di, n, prob, 42, 3, dstep);
    be->mul(be, dprod, dmask, dother, n);
    get(&b, out, dout, n * sizeof *out);
    get(&b, mask, dmask, n * sizeof *mask);
    get(&b, product, dprod, n * sizeof *product);
    bufs_release(&b);
}

START_TEST(gpu_dropout_and_mul)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    static const size_t sizes[] = {1, 5, 1000, 257 * 129};
    static const float probs[] = {0.0f, 0.2f, 0.5f, 0.9f};
    static const uint64_t steps[] = {0, 7, 1ull << 33};
    uint64_t rng = 5;
    for (size_t s = 0; s < 4; s++) {
        size_t n = sizes[s];
        float *in = random_floats(n, &rng, -1, 1), *other = random_floats(n, &rng, -1, 1);
        for (int q = 0; q < 4; q++) {
            for (int t = 0; t < 3; t++) {
                float *out[2], *mask[2], *prod[2];
                for (int i = 0; i < 2; i++)
                    out[i] = host_floats(n), mask[i] = host_floats(n), prod[i] = host_floats(n);
                run_dropout(p.cpu, n, probs[q], steps[t], in, other, out[0], mask[0], prod[0]);
                run_dropout(p.gpu, n, probs[q], steps[t], in, other, out[1], mask[1], prod[1]);
                ASSERT_SAME(mask[1], mask[0], n, "dropout mask n=%zu p=%g", n, probs[q]);
                ASSERT_SAME(out[1], out[0], n, "dropout out n=%zu p=%g", n, probs[q]);
                ASSERT_SAME(prod[1], prod[0], n, "mul n=%zu", n);
                for (int i = 0; i < 2; i++)
                    free(out[i]), free(mask[i]), free(prod[i]);
            }
        }
        free(in), free(other);
    }
    pair_close(&p);
}
END_TEST

static void run_softmax(struct backend *be, int rows, int cols, const float *in, const float *dout,
                        float *out, float *din)
{
    struct bufs b = {.be = be};
    size_t bytes = (size_t)rows * cols * sizeof(float);
    float *di = dev(&b, in, bytes), *ddout = dev(&b, dout, bytes);
    float *dout_s = dev(&b, NULL, bytes), *ddin = dev(&b, NULL, bytes);
    be->softmax_forward(be, dout_s, di, rows, cols);
    be->softmax_backward(be, ddin, dout_s, ddout, rows, cols);
    get(&b, out, dout_s, bytes);
    get(&b, din, ddin, bytes);
    bufs_release(&b);
}

START_TEST(gpu_softmax)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    uint64_t rng = 6;
    for (size_t s = 0; s < N_SHAPES; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        float *in = random_floats(n, &rng, -20, 20), *dout = random_floats(n, &rng, -1, 1);
        float *out[2] = {host_floats(n), host_floats(n)}, *din[2] = {host_floats(n), host_floats(n)};
        run_softmax(p.cpu, rows, cols, in, dout, out[0], din[0]);
        run_softmax(p.gpu, rows, cols, in, dout, out[1], din[1]);
        assert_close(out[1], out[0], n, 1e-5, "softmax %dx%d", rows, cols);
        assert_close(din[1], din[0], n, 1e-5, "softmax backward %dx%d", rows, cols);
        free(in), free(dout);
        for (int i = 0; i < 2; i++)
            free(out[i]), free(din[i]);
    }
    pair_close(&p);
}
END_TEST

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

enum class_loss { CLASS_CROSS_ENTROPY, CLASS_NLL };

/* One classification loss, with its gradient or (want_grad false) without. */
static void run_class_loss(struct backend *be, enum class_loss kind, bool want_grad, int rows, int cols,
                           const float *x, const float *labels, float *grad, double *acc)
{
    struct bufs b = {.be = be};
    size_t bytes = (size_t)rows * cols * sizeof(float);
    float *dx = dev(&b, x, bytes), *dl = dev(&b, labels, rows * sizeof *labels);
    float *dg = want_grad ? dev(&b, NULL, bytes) : NULL;
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    if (kind == CLASS_CROSS_ENTROPY)
        be->cross_entropy(be, dg, dacc, dx, dl, rows, cols, 1.0f / rows);
    else
        be->nll(be, dg, dacc, dx, dl, rows, cols, 1.0f / rows);
    if (want_grad)
        get(&b, grad, dg, bytes);
    get(&b, acc, dacc, sizeof acc_start);
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
    struct pair p;
    if (!pair_open(&p))
        return;
    const char *name = kind == CLASS_CROSS_ENTROPY ? "cross_entropy" : "nll";
    uint64_t rng = 7 + kind;
    for (size_t s = 0; s < N_SHAPES; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        float *x = host_floats(n), *labels = host_floats(rows);
        class_inputs(x, labels, rows, cols, kind == CLASS_NLL, &rng);
        for (int with_grad = 0; with_grad < 2; with_grad++) {
            float *grad[2] = {host_floats(n), host_floats(n)};
            double acc[2][ACC_SLOTS];
            run_class_loss(p.cpu, kind, with_grad, rows, cols, x, labels, grad[0], acc[0]);
            run_class_loss(p.gpu, kind, with_grad, rows, cols, x, labels, grad[1], acc[1]);
            assert_acc_close(acc[1], acc[0], name, rows, cols);
            if (with_grad)
                assert_close(grad[1], grad[0], n, 1e-5, "%s grad %dx%d", name, rows, cols);
            free(grad[0]), free(grad[1]);
        }
        free(x), free(labels);
    }
    pair_close(&p);
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

static void run_regression(struct backend *be, enum regression_loss kind, bool want_grad, int rows,
                           int cols, const float *pred, const float *target, float *grad, double *acc)
{
    struct bufs b = {.be = be};
    size_t n = (size_t)rows * cols, bytes = n * sizeof(float);
    float *dp = dev(&b, pred, bytes), *dt = dev(&b, target, bytes);
    float *dg = want_grad ? dev(&b, NULL, bytes) : NULL;
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    be->regression_loss(be, kind, dg, dacc, dp, dt, rows, cols, 1.5f, 0.5f);
    be->log_sq_error(be, dacc, dp, dt, (int)n);
    if (want_grad)
        get(&b, grad, dg, bytes);
    get(&b, acc, dacc, sizeof acc_start);
    bufs_release(&b);
}

/* Each regression loss and log_sq_error; predictions straddle 1 (the
 * log clamp) and residuals straddle Huber's delta. */
START_TEST(gpu_regression)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    static const enum regression_loss kinds[] = {RLOSS_MSE, RLOSS_SQUARED, RLOSS_HUBER, RLOSS_L1};
    uint64_t rng = 9;
    for (size_t s = 0; s < N_SHAPES; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        float *pred = random_floats(n, &rng, 0.25, 4), *target = random_floats(n, &rng, 1, 4);
        if (n > 1)
            pred[1] = target[1]; /* L1's zero residual */
        for (int k = 0; k < 4; k++) {
            for (int with_grad = 0; with_grad < 2; with_grad++) {
                float *grad[2] = {host_floats(n), host_floats(n)};
                double acc[2][ACC_SLOTS];
                run_regression(p.cpu, kinds[k], with_grad, rows, cols, pred, target, grad[0], acc[0]);
                run_regression(p.gpu, kinds[k], with_grad, rows, cols, pred, target, grad[1], acc[1]);
                assert_acc_close(acc[1], acc[0], "regression", rows, cols);
                if (with_grad)
                    assert_close(grad[1], grad[0], n, 1e-5, "regression %d grad %dx%d", k, rows, cols);
                free(grad[0]), free(grad[1]);
            }
        }
        free(pred), free(target);
    }
    pair_close(&p);
}
END_TEST

static void run_penalty(struct backend *be, bool l1, bool want_grad, size_t n, const float *w,
                        const float *grad_in, float *grad, double *acc)
{
    struct bufs b = {.be = be};
    float *dw = dev(&b, w, n * sizeof *w);
    float *dg = want_grad ? dev(&b, grad_in, n * sizeof *grad_in) : NULL;
    double *dacc = dev(&b, acc_start, sizeof acc_start);
    be->penalty(be, l1, dg, dacc, dw, n, 0.3f, 0.25f, 64.0f);
    if (want_grad)
        get(&b, grad, dg, n * sizeof *grad);
    get(&b, acc, dacc, sizeof acc_start);
    bufs_release(&b);
}

START_TEST(gpu_penalty)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    uint64_t rng = 10;
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t n = (size_t)shapes[s][0] * shapes[s][1];
        float *w = random_floats(n, &rng, -1, 1), *grad_in = random_floats(n, &rng, -1, 1);
        w[0] = 0; /* sign(0) = 0 */
        for (int l1 = 0; l1 < 2; l1++) {
            for (int with_grad = 0; with_grad < 2; with_grad++) {
                float *grad[2] = {host_floats(n), host_floats(n)};
                double acc[2][ACC_SLOTS];
                run_penalty(p.cpu, l1, with_grad, n, w, grad_in, grad[0], acc[0]);
                run_penalty(p.gpu, l1, with_grad, n, w, grad_in, grad[1], acc[1]);
                assert_acc_close(acc[1], acc[0], "penalty", (int)n, 1);
                if (with_grad)
                    assert_close(grad[1], grad[0], n, 1e-5, "penalty l1=%d n=%zu", l1, n);
                free(grad[0]), free(grad[1]);
            }
        }
        free(w), free(grad_in);
    }
    pair_close(&p);
}
END_TEST

static void run_gather(struct backend *be, int n_src, int rows, int cols, const uint8_t *xu8,
                       const float *xf, const int32_t *idx, float *out_u8, float *out_f)
{
    struct bufs b = {.be = be};
    size_t src = (size_t)n_src * cols, out = (size_t)rows * cols * sizeof(float);
    uint8_t *dxu8 = dev(&b, xu8, src);
    float *dxf = dev(&b, xf, src * sizeof *xf);
    int32_t *didx = dev(&b, idx, rows * sizeof *idx);
    float *dou8 = dev(&b, NULL, out), *dof = dev(&b, NULL, out);
    be->gather_u8(be, dou8, dxu8, didx, rows, cols, 1.0f / 255);
    be->gather_f32(be, dof, dxf, didx, rows, cols);
    get(&b, out_u8, dou8, out);
    get(&b, out_f, dof, out);
    bufs_release(&b);
}

START_TEST(gpu_gather)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    uint64_t rng = 11;
    int n_src = 300;
    for (size_t s = 0; s < N_SHAPES; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t src = (size_t)n_src * cols, n = (size_t)rows * cols;
        uint8_t *xu8 = malloc(src);
        ck_assert_ptr_nonnull(xu8);
        for (size_t i = 0; i < src; i++)
            xu8[i] = (uint8_t)test_rand_u64(&rng);
        float *xf = random_floats(src, &rng, -3, 3);
        int32_t idx[300];
        for (int r = 0; r < rows; r++) /* repeats allowed; the last source row included */
            idx[r] = r == 0 ? n_src - 1 : (int32_t)(test_rand_u64(&rng) % (uint64_t)n_src);
        float *u8[2] = {host_floats(n), host_floats(n)}, *f[2] = {host_floats(n), host_floats(n)};
        run_gather(p.cpu, n_src, rows, cols, xu8, xf, idx, u8[0], f[0]);
        run_gather(p.gpu, n_src, rows, cols, xu8, xf, idx, u8[1], f[1]);
        ASSERT_SAME(u8[1], u8[0], n, "gather_u8 %dx%d", rows, cols);
        ASSERT_SAME(f[1], f[0], n, "gather_f32 %dx%d", rows, cols);
        free(xu8), free(xf);
        for (int i = 0; i < 2; i++)
            free(u8[i]), free(f[i]);
    }
    pair_close(&p);
}
END_TEST

enum optimizer { OPT_TEST_SGD, OPT_TEST_SGD_MOMENTUM, OPT_TEST_ADAM };

/* Five steps with fresh gradients each, the step counter advanced on the
 * device as training does; returns p, m (momentum buffer) and v. */
static void run_optimizer(struct backend *be, enum optimizer opt, float wd, size_t n, const float *p0,
                          const float *grads, float *p, float *m, float *v)
{
    struct bufs b = {.be = be};
    float *zero = host_floats(n);
    memset(zero, 0, n * sizeof *zero);
    uint64_t step = 0;
    float *dp = dev(&b, p0, n * sizeof *p0), *dm = dev(&b, zero, n * sizeof *m);
    float *dv = dev(&b, zero, n * sizeof *v), *dg = dev(&b, NULL, n * sizeof *grads);
    uint64_t *dstep = dev(&b, &step, sizeof step);
    for (int it = 0; it < 5; it++) {
        be->upload(be, dg, grads + (size_t)it * n, n * sizeof *grads);
        if (opt == OPT_TEST_ADAM)
            be->adam_step(be, dp, dg, dm, dv, n, 0.01f, 0.9f, 0.999f, 1e-8f, wd, dstep);
        else
            be->sgd_step(be, dp, dg, dm, n, 0.1f, opt == OPT_TEST_SGD_MOMENTUM ? 0.9f : 0.0f, wd);
        be->step_advance(be, dstep);
    }
    get(&b, p, dp, n * sizeof *p);
    get(&b, m, dm, n * sizeof *m);
    get(&b, v, dv, n * sizeof *v);
    free(zero);
    bufs_release(&b);
}

START_TEST(gpu_optimizers)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    static const char *names[] = {"sgd", "sgd momentum", "adam"};
    static const float decays[] = {0.0f, 1e-3f};
    uint64_t rng = 12;
    size_t n = 257 * 129 + 10;
    float *p0 = random_floats(n, &rng, -1, 1), *grads = random_floats(5 * n, &rng, -1, 1);
    for (int opt = 0; opt < 3; opt++) {
        for (int d = 0; d < 2; d++) {
            float *out[2][3];
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    out[i][j] = host_floats(n);
            run_optimizer(p.cpu, opt, decays[d], n, p0, grads, out[0][0], out[0][1], out[0][2]);
            run_optimizer(p.gpu, opt, decays[d], n, p0, grads, out[1][0], out[1][1], out[1][2]);
            for (int j = 0; j < 3; j++)
                assert_close(out[1][j], out[0][j], n, 1e-5, "%s wd=%g buffer %d", names[opt], decays[d], j);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    free(out[i][j]);
        }
    }
    free(p0), free(grads);
    pair_close(&p);
}
END_TEST

/* A small training step: linear layer, relu, dropout, cross-entropy, SGD,
 * step counter. Everything lives in device buffers, so a replay sees new
 * data and a new step (new dropout mask). */
struct step_state {
    struct backend *be;
    int rows, in, out;
    float *x, *w, *bias, *h, *mask, *dh, *dw, *db, *labels;
    double *acc;
    uint64_t *step;
};

static void step_body(void *arg)
{
    struct step_state *s = arg;
    struct backend *be = s->be;
    be->gemm(be, false, false, s->rows, s->out, s->in, 1.0f, s->x, s->in, s->w, s->out, 0.0f, s->h, s->out);
    be->bias_add(be, s->h, s->bias, s->rows, s->out);
    be->act_forward(be, ACT_RELU, s->h, s->h, (size_t)s->rows * s->out);
    be->dropout_forward(be, s->h, s->mask, s->h, (size_t)s->rows * s->out, 0.3f, 9, 1, s->step);
    be->cross_entropy(be, s->dh, s->acc, s->h, s->labels, s->rows, s->out, 1.0f / s->rows);
    be->mul(be, s->dh, s->dh, s->mask, (size_t)s->rows * s->out);
    be->gemm(be, true, false, s->in, s->out, s->rows, 1.0f, s->x, s->in, s->dh, s->out, 0.0f, s->dw, s->out);
    be->bias_grad(be, s->db, s->dh, s->rows, s->out);
    be->sgd_step(be, s->w, s->dw, NULL, (size_t)s->in * s->out, 0.5f, 0.0f, 0.0f);
    be->sgd_step(be, s->bias, s->db, NULL, (size_t)s->out, 0.5f, 0.0f, 0.0f);
    be->step_advance(be, s->step);
}

/* Runs three steps, each on new inputs, through graph_run (key >= 0) or by
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
    s.acc = dev(&b, acc_start, sizeof acc_start);
    s.step = dev(&b, &step, sizeof step);
    for (int it = 0; it < 3; it++) {
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
    struct pair p;
    if (!pair_open(&p))
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
    run_steps(p.cpu, -1, x, labels, w0, w[0], mask[0], acc[0]);
    run_steps(p.gpu, -1, x, labels, w0, w[1], mask[1], acc[1]);
    run_steps(p.gpu, 7, x, labels, w0, w[2], mask[2], acc[2]);
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
    pair_close(&p);
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
    struct pair p;
    if (!pair_open(&p))
        return;
    struct bufs b = {.be = p.gpu};
    uint64_t zero = 0, step;
    struct step_state s = {.be = p.gpu, .step = dev(&b, &zero, sizeof zero)};
    for (int key = 100; key < 140; key++)
        p.gpu->graph_run(p.gpu, key, advance_body, &s);
    p.gpu->graph_run(p.gpu, 139, advance_body, &s); /* replayed */
    p.gpu->graph_run(p.gpu, 100, advance_body, &s); /* recorded again */
    get(&b, &step, s.step, sizeof step);
    ck_assert_uint_eq(step, 42);
    bufs_release(&b);
    pair_close(&p);
}
END_TEST

START_TEST(gpu_alloc_too_big)
{
    struct pair p;
    if (!pair_open(&p))
        return;
    struct err e = {0};
    size_t tib = (size_t)1 << 40;
    void *big = p.gpu->alloc(p.gpu, tib, &e);
    ck_assert_ptr_null(big);
    ck_assert_int_eq(e.code, EXIT_RUNTIME);
    ck_assert_msg(strstr(e.msg, "out of GPU memory: asked for 1099511627776 bytes (1048576.0 MiB)"), "%s",
                  e.msg);
    ck_assert_msg(strstr(e.msg, "MiB free of"), "%s", e.msg);
    /* the failure left no sticky error behind: the backend still works */
    struct bufs b = {.be = p.gpu};
    float one = 0;
    float *d = dev(&b, NULL, sizeof one);
    p.gpu->fill(p.gpu, d, 1.0f, 1);
    get(&b, &one, d, sizeof one);
    ck_assert_float_eq(one, 1.0f);
    bufs_release(&b);
    pair_close(&p);
}
END_TEST

/* Runs without a GPU too: asking for one that is not there is an error
 * with a reason, never a crash. */
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
    ck_assert_msg(n > 0 ? strstr(text, "cuda:0: ") != NULL : strstr(text, "no GPU: ") != NULL, "%s", text);
    free(text);
}
END_TEST
#else
START_TEST(gpu_not_built)
{
    printf("SKIP: built without CUDA (GPU=0): no GPU backend to test\n");
}
END_TEST
#endif

Suite *suite_gpu(void)
{
    Suite *s = suite_create("gpu");
    TCase *tc = tcase_create("gpu");
    tcase_set_timeout(tc, 120); /* a CUDA context per test, and cuBLAS's first load */
#ifdef D2L_CUDA
    tcase_add_test(tc, gpu_missing_device_reported);
    tcase_add_test(tc, gpu_fill_and_step);
    tcase_add_test(tc, gpu_gemm);
    tcase_add_test(tc, gpu_gemm_tf32);
    tcase_add_test(tc, gpu_bias);
    tcase_add_test(tc, gpu_activations);
    tcase_add_test(tc, gpu_dropout_and_mul);
    tcase_add_test(tc, gpu_softmax);
    tcase_add_test(tc, gpu_cross_entropy);
    tcase_add_test(tc, gpu_nll);
    tcase_add_test(tc, gpu_regression);
    tcase_add_test(tc, gpu_penalty);
    tcase_add_test(tc, gpu_gather);
    tcase_add_test(tc, gpu_optimizers);
    tcase_add_test(tc, gpu_graph_replay);
    tcase_add_test(tc, gpu_graph_many_keys);
    tcase_add_test(tc, gpu_alloc_too_big);
#else
    tcase_add_test(tc, gpu_not_built);
#endif
    suite_add_tcase(s, tc);
    return s;
}
