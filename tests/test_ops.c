/* Every CPU backend op against a naive float64 reference, on shapes that
 * are not multiples of any vector width (and single rows/columns). */
#include <check.h>
#include <math.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define TOL 1e-5      /* element-wise ops: a few float32 roundings */
#define TOL_SUM 1e-4  /* gemm and row sums: float32 accumulation over k terms */

struct shape {
    int m, n, k;
};

static const struct shape shapes[] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 31, 130}, {1, 40, 3}, {29, 1, 17}};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static struct backend *be;

static void setup(void) { be = test_cpu_backend(); }
static void teardown(void) { be->destroy(be); }

static float *floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static double *doubles(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* ---- gemm ---- */

/* C = alpha op(A) op(B) + beta C with every transpose pair, leading dims
 * wider than the rows they hold; the padding must stay untouched. */
static void check_gemm(struct shape s, bool ta, bool tb, float alpha, float beta)
{
    uint64_t rng = 1000u + (uint64_t)s.m * 7 + (uint64_t)s.n * 13 + (uint64_t)s.k + ta * 2 + tb;
    int a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k;
    int b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n;
    int lda = a_cols + 3, ldb = b_cols + 2, ldc = s.n + 5;
    float *a = floats((size_t)a_rows * lda), *b = floats((size_t)b_rows * ldb), *c = floats((size_t)s.m * ldc);
    double *want = doubles((size_t)s.m * s.n);
    test_fill_uniform(a, (size_t)a_rows * lda, &rng, -1, 1);
    test_fill_uniform(b, (size_t)b_rows * ldb, &rng, -1, 1);
    test_fill_uniform(c, (size_t)s.m * ldc, &rng, -1, 1);
    for (int i = 0; i < s.m; i++)
        for (int j = 0; j < s.n; j++) {
            double sum = 0;
            for (int p = 0; p < s.k; p++) {
                double av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += av * bv;
            }
            want[(size_t)i * s.n + j] = alpha * sum + beta * (double)c[(size_t)i * ldc + j];
        }
    float *before = floats((size_t)s.m * ldc);
    memcpy(before, c, (size_t)s.m * ldc * sizeof *c);

    be->gemm(be, ta, tb, s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, c, ldc);

    for (int i = 0; i < s.m; i++) {
        double err = test_max_rel_err(c + (size_t)i * ldc, want + (size_t)i * s.n, (size_t)s.n, 1.0);
        ck_assert_msg(err < TOL_SUM, "gemm(%d,%d,%d) ta=%d tb=%d row %d: rel err %g", s.m, s.n, s.k, ta, tb, i,
                      err);
        for (int j = s.n; j < ldc; j++)
            ck_assert_msg(c[(size_t)i * ldc + j] == before[(size_t)i * ldc + j], "gemm wrote into C's padding");
    }
    free(a);
    free(b);
    free(c);
    free(before);
    free(want);
}

START_TEST(gemm_all_transposes)
{
    for (int i = 0; i < N_SHAPES; i++)
        for (int t = 0; t < 4; t++) {
            check_gemm(shapes[i], t & 1, t & 2, 0.7f, -0.3f);
            check_gemm(shapes[i], t & 1, t & 2, 1.0f, 0.0f);
        }
}
END_TEST

/* beta = 0 must ignore C entirely, even NaN (BLAS semantics, and what the
 * model relies on when it writes into fresh buffers). */
START_TEST(gemm_beta_zero_ignores_nan)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4];
    for (int i = 0; i < 4; i++)
        c[i] = NAN;
    be->gemm(be, false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
    /* [1 2 3; 4 5 6] [1 0; 0 1; 1 1] = [4 5; 10 11] */
    ck_assert_float_eq(c[0], 4);
    ck_assert_float_eq(c[1], 5);
    ck_assert_float_eq(c[2], 10);
    ck_assert_float_eq(c[3], 11);
}
END_TEST

/* ---- bias ---- */

START_TEST(bias_add_and_grad)
{
    for (int i = 0; i < N_SHAPES; i++) {
        int rows = shapes[i].m, cols = shapes[i].n;
        uint64_t rng = 77 + i;
        size_t n = (size_t)rows * cols;
        float *out = floats(n), *bias = floats(cols), *dbias = floats(cols);
        double *want = doubles(n), *want_db = doubles(cols);
        test_fill_uniform(out, n, &rng, -2, 2);
        test_fill_uniform(bias, cols, &rng, -2, 2);
        test_fill_uniform(dbias, cols, &rng, -2, 2); /* garbage: bias_grad overwrites */
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                want[(size_t)r * cols + c] = (double)out[(size_t)r * cols + c] + bias[c];
                want_db[c] += out[(size_t)r * cols + c];
            }
        be->bias_grad(be, dbias, out, rows, cols, 0);
        ck_assert_double_lt(test_max_rel_err(dbias, want_db, cols, 1.0), TOL_SUM);
        be->bias_add(be, out, bias, rows, cols);
        ck_assert_double_lt(test_max_rel_err(out, want, n, 1.0), TOL);
        free(out);
        free(bias);
        free(dbias);
        free(want);
        free(want_db);
    }
}
END_TEST

/* ---- activations ---- */

static double act_ref(enum activation act, double x)
{
    switch (act) {
    case ACT_RELU:
        return x > 0 ? x : 0;
    case ACT_SIGMOID:
        return 1 / (1 + exp(-x));
    case ACT_TANH:
        return tanh(x);
    }
    return NAN;
}

static double act_deriv_ref(enum activation act, double x)
{
    switch (act) {
    case ACT_RELU:
        return x > 0 ? 1 : 0;
    case ACT_SIGMOID:
        return act_ref(act, x) * (1 - act_ref(act, x));
    case ACT_TANH:
        return 1 - tanh(x) * tanh(x);
    }
    return NAN;
}

START_TEST(activations_forward_backward)
{
    static const enum activation acts[] = {ACT_RELU, ACT_SIGMOID, ACT_TANH};
    const size_t n = 1037;
    float *in = floats(n), *out = floats(n), *dout = floats(n), *din = floats(n), *inplace = floats(n);
    double *want = doubles(n), *want_din = doubles(n);
    for (int a = 0; a < 3; a++) {
        uint64_t rng = 5 + a;
        test_fill_uniform(in, n, &rng, -6, 6);
        test_fill_uniform(dout, n, &rng, -1, 1);
        in[0] = 0; /* relu'(0) = 0 as torch */
        in[1] = -30;
        in[2] = 30; /* saturating: still finite, derivative ~0 */
        for (size_t i = 0; i < n; i++) {
            want[i] = act_ref(acts[a], in[i]);
            want_din[i] = dout[i] * act_deriv_ref(acts[a], in[i]);
        }
        be->act_forward(be, acts[a], out, in, n);
        ck_assert_msg(test_max_rel_err(out, want, n, 1.0) < TOL, "act %d forward", a);
        be->act_backward(be, acts[a], din, out, dout, n);
        ck_assert_msg(test_max_rel_err(din, want_din, n, 1.0) < TOL, "act %d backward", a);

        /* in place (out == in, din == dout) gives the same numbers */
        memcpy(inplace, in, n * sizeof *in);
        be->act_forward(be, acts[a], inplace, inplace, n);
        ck_assert_int_eq(memcmp(inplace, out, n * sizeof *out), 0);
        memcpy(inplace, dout, n * sizeof *dout);
        be->act_backward(be, acts[a], inplace, out, inplace, n);
        ck_assert_int_eq(memcmp(inplace, din, n * sizeof *din), 0);
    }
    free(in);
    free(out);
    free(dout);
    free(din);
    free(inplace);
    free(want);
    free(want_din);
}
END_TEST

/* ---- dropout and mul ---- */

START_TEST(dropout_keeps_fraction_and_scales)
{
    const size_t n = 200003; /* not a multiple of the 4 words per Philox block */
    const float p = 0.3f;
    uint64_t step = 7;
    float *in = floats(n), *out = floats(n), *mask = floats(n);
    uint64_t rng = 11;
    test_fill_uniform(in, n, &rng, -3, 3);
    be->dropout_forward(be, out, mask, in, n, 0, p, 42, 2, &step);
    float scale = 1.0f / (1.0f - p);
    /* counted, not asserted per element: a passing Check assert costs a pipe write */
    size_t kept = 0, bad_mask = 0, bad_out = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = dropout_uniform(42, 2, step, i) >= p;
        bad_mask += mask[i] != (keep ? scale : 0.0f);
        bad_out += test_rel_err(out[i], keep ? (double)in[i] / (1.0 - (double)p) : 0.0, 1.0) >= TOL;
        kept += keep;
    }
    ck_assert_msg(bad_mask == 0, "%zu mask values disagree with dropout_uniform", bad_mask);
    ck_assert_msg(bad_out == 0, "%zu outputs are not in / (1 - p) or 0", bad_out);
    /* binomial sd of the fraction: sqrt(0.21 / n) ~ 0.001; allow 5 sd */
    double frac = (double)kept / n;
    ck_assert_msg(fabs(frac - 0.7) < 0.005, "kept fraction %g, want 0.7", frac);
    free(in);
    free(out);
    free(mask);
}
END_TEST

/* Every start (a rank's slice begins anywhere in a Philox counter's four
 * words) and probability, p's own boundary included, on slices long enough
 * for the vector path and its scalar head and tail. */
START_TEST(dropout_mask_at_every_offset_and_p)
{
    static const float ps[] = {0.0f, 0.25f, 0.5f, 0.2f, 0.9f, 1.0f / 3};
    const size_t n = 1001;
    float *in = floats(n), *out = floats(n), *mask = floats(n);
    uint64_t rng = 3, step = 12;
    test_fill_uniform(in, n, &rng, -2, 2);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
        for (uint64_t first = 0; first < 6; first++) {
            be->dropout_forward(be, out, mask, in, n, first, ps[k], 77, 4, &step);
            float scale = 1.0f / (1.0f - ps[k]);
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) {
                float want = dropout_uniform(77, 4, step, first + i) >= ps[k] ? scale : 0.0f;
                bad += mask[i] != want || out[i] != in[i] * want;
            }
            ck_assert_msg(bad == 0, "p %g first %" PRIu64 ": %zu elements differ from dropout_uniform", ps[k],
                          first, bad);
        }
    free(in);
    free(out);
    free(mask);
}
END_TEST

/* The mask is a function of (seed, layer, step) only. */
START_TEST(dropout_mask_is_reproducible)
{
    const size_t n = 4099;
    float *in = floats(n), *m1 = floats(n), *m2 = floats(n), *o1 = floats(n), *o2 = floats(n);
    be->fill(be, in, 1.0f, n);
    uint64_t step = 3;
    be->dropout_forward(be, o1, m1, in, n, 0, 0.5f, 9, 1, &step);
    be->dropout_forward(be, o2, m2, in, n, 0, 0.5f, 9, 1, &step);
    ck_assert_int_eq(memcmp(m1, m2, n * sizeof *m1), 0);
    ck_assert_int_eq(memcmp(o1, o2, n * sizeof *o1), 0);

    size_t differ_step = 0, differ_layer = 0, differ_seed = 0;
    step = 4;
    be->dropout_forward(be, o2, m2, in, n, 0, 0.5f, 9, 1, &step);
    for (size_t i = 0; i < n; i++)
        differ_step += m1[i] != m2[i];
    step = 3;
    be->dropout_forward(be, o2, m2, in, n, 0, 0.5f, 9, 2, &step);
    for (size_t i = 0; i < n; i++)
        differ_layer += m1[i] != m2[i];
    be->dropout_forward(be, o2, m2, in, n, 0, 0.5f, 10, 1, &step);
    for (size_t i = 0; i < n; i++)
        differ_seed += m1[i] != m2[i];
    /* independent masks with p = 0.5 differ in about half the places */
    ck_assert_msg(differ_step > n / 3 && differ_layer > n / 3 && differ_seed > n / 3,
                  "masks too alike: step %zu layer %zu seed %zu of %zu", differ_step, differ_layer, differ_seed, n);
    free(in);
    free(m1);
    free(m2);
    free(o1);
    free(o2);
}
END_TEST

/* A data-parallel rank's slice (rows from an offset that is no multiple of
 * the 4 draws per Philox block) gets the masks of those elements of the
 * whole batch, as one process would draw them. */
START_TEST(dropout_slice_draws_the_whole_batchs_masks)
{
    const size_t n = 4099, first = 1237, part = 1501;
    float *in = floats(n), *whole = floats(n), *out = floats(n), *slice = floats(part), *slice_out = floats(part);
    be->fill(be, in, 1.0f, n);
    uint64_t step = 5;
    be->dropout_forward(be, out, whole, in, n, 0, 0.5f, 9, 1, &step);
    be->dropout_forward(be, slice_out, slice, in, part, first, 0.5f, 9, 1, &step);
    ck_assert_int_eq(memcmp(slice, whole + first, part * sizeof *slice), 0);
    be->dropout_forward(be, slice_out, slice, in, part, first + 1, 0.5f, 9, 1, &step);
    ck_assert_int_ne(memcmp(slice, whole + first, part * sizeof *slice), 0);
    free(in);
    free(whole);
    free(out);
    free(slice);
    free(slice_out);
}
END_TEST

START_TEST(dropout_p_zero_keeps_all)
{
    float in[5] = {1, -2, 3, -4, 5}, out[5], mask[5];
    uint64_t step = 0;
    be->dropout_forward(be, out, mask, in, 5, 0, 0.0f, 1, 0, &step);
    for (int i = 0; i < 5; i++) {
        ck_assert_float_eq(mask[i], 1.0f);
        ck_assert_float_eq(out[i], in[i]);
    }
}
END_TEST

START_TEST(mul_elementwise)
{
    const size_t n = 1001;
    float *a = floats(n), *b = floats(n), *out = floats(n);
    double *want = doubles(n);
    uint64_t rng = 3;
    test_fill_uniform(a, n, &rng, -5, 5);
    test_fill_uniform(b, n, &rng, -5, 5);
    for (size_t i = 0; i < n; i++)
        want[i] = (double)a[i] * b[i];
    be->mul(be, out, a, b, n);
    ck_assert_double_lt(test_max_rel_err(out, want, n, 1.0), TOL);
    be->mul(be, a, a, b, n); /* in place */
    ck_assert_double_lt(test_max_rel_err(a, want, n, 1.0), TOL);
    free(a);
    free(b);
    free(out);
    free(want);
}
END_TEST

/* ---- softmax ---- */

static void softmax_ref(double *out, const float *in, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *z = in + (size_t)r * cols;
        double max = z[0], sum = 0;
        for (int c = 1; c < cols; c++)
            max = z[c] > max ? z[c] : max;
        for (int c = 0; c < cols; c++)
            sum += exp(z[c] - max);
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = exp(z[c] - max) / sum;
    }
}

START_TEST(softmax_forward_backward)
{
    for (int i = 0; i < N_SHAPES; i++) {
        int rows = shapes[i].m, cols = shapes[i].n;
        size_t n = (size_t)rows * cols;
        uint64_t rng = 300 + i;
        float *in = floats(n), *out = floats(n), *dout = floats(n), *din = floats(n);
        double *want = doubles(n), *want_din = doubles(n);
        test_fill_uniform(in, n, &rng, -8, 8);
        test_fill_uniform(dout, n, &rng, -1, 1);
        in[0] = 1000; /* large logits must not overflow */
        softmax_ref(want, in, rows, cols);
        for (int r = 0; r < rows; r++) {
            double dot = 0;
            for (int c = 0; c < cols; c++)
                dot += want[(size_t)r * cols + c] * dout[(size_t)r * cols + c];
            for (int c = 0; c < cols; c++)
                want_din[(size_t)r * cols + c] = want[(size_t)r * cols + c] * (dout[(size_t)r * cols + c] - dot);
        }
        be->softmax_forward(be, out, in, rows, cols);
        ck_assert_msg(test_max_rel_err(out, want, n, 1.0) < TOL, "softmax %dx%d", rows, cols);
        be->softmax_backward(be, din, out, dout, rows, cols);
        ck_assert_msg(test_max_rel_err(din, want_din, n, 1.0) < TOL, "softmax backward %dx%d", rows, cols);
        free(in);
        free(out);
        free(dout);
        free(din);
        free(want);
        free(want_din);
    }
}
END_TEST

/* ---- classification losses ---- */

/* Reference cross-entropy of one row, log-sum-exp in float64. */
static double ce_row_ref(const float *z, int cols, int y, double *prob)
{
    double max = z[0], sum = 0;
    for (int c = 1; c < cols; c++)
        max = z[c] > max ? z[c] : max;
    for (int c = 0; c < cols; c++)
        sum += exp(z[c] - max);
    double lse = max + log(sum);
    for (int c = 0; c < cols; c++)
        prob[c] = exp(z[c] - lse);
    return lse - z[y];
}

START_TEST(cross_entropy_matches_reference)
{
    for (int i = 0; i < N_SHAPES; i++) {
        int rows = shapes[i].m, cols = shapes[i].n + 1; /* at least two classes */
        size_t n = (size_t)rows * cols;
        uint64_t rng = 500 + i;
        float *z = floats(n), *labels = floats(rows), *dz = floats(n);
        double *want_dz = doubles(n);
        test_fill_uniform(z, n, &rng, -10, 10);
        double want_loss = 0, want_correct = 0;
        float scale = 1.0f / rows;
        for (int r = 0; r < rows; r++) {
            int y = (int)(test_rand_u64(&rng) % (uint64_t)cols);
            labels[r] = (float)y;
            double *prob = want_dz + (size_t)r * cols;
            want_loss += ce_row_ref(z + (size_t)r * cols, cols, y, prob);
            int best = 0;
            for (int c = 1; c < cols; c++)
                best = z[(size_t)r * cols + c] > z[(size_t)r * cols + best] ? c : best;
            want_correct += best == y;
            for (int c = 0; c < cols; c++)
                prob[c] = (prob[c] - (c == y)) * scale;
        }
        double acc[ACC_SLOTS] = {1, 2, 3, 4, 5}; /* ops add to what is there */
        be->cross_entropy(be, dz, acc, z, labels, rows, cols, scale);
        ck_assert_double_lt(test_rel_err(acc[ACC_LOSS] - 1, want_loss, 1.0), TOL);
        ck_assert_double_eq(acc[ACC_CORRECT] - 2, want_correct);
        ck_assert_double_eq(acc[ACC_COUNT] - 3, rows);
        ck_assert_double_eq(acc[ACC_SQERR], 4);
        ck_assert_double_eq(acc[ACC_PENALTY], 5);
        ck_assert_msg(test_max_rel_err(dz, want_dz, n, 1.0) < TOL, "ce grad %dx%d", rows, cols);

        /* without a gradient buffer: the same metrics */
        double acc2[ACC_SLOTS] = {0};
        be->cross_entropy(be, NULL, acc2, z, labels, rows, cols, scale);
        ck_assert_double_lt(test_rel_err(acc2[ACC_LOSS], want_loss, 1.0), TOL);
        ck_assert_double_eq(acc2[ACC_CORRECT], want_correct);
        free(z);
        free(labels);
        free(dz);
        free(want_dz);
    }
}
END_TEST

/* Ties go to the first index (torch.argmax); logits of 1000 stay finite. */
START_TEST(cross_entropy_ties_and_large_logits)
{
    float z[4 * 3] = {1, 3, 3, /* ties: argmax 1 */
                      3, 3, 1, /* argmax 0 */
                      1, 3, 3, /* argmax 1, not the label 2 */
                      1000, 0, -1000};
    float labels[4] = {1, 0, 2, 1};
    float dz[12];
    double acc[ACC_SLOTS] = {0};
    be->cross_entropy(be, dz, acc, z, labels, 4, 3, 1.0f);
    ck_assert_double_eq(acc[ACC_CORRECT], 2); /* rows 0 and 1; the last index would give row 2 only */
    /* rows 0-2: lse = 3 + log(2 + e^-2), loss lse - 3; row 3: loss 1000 */
    double lse = 3 + log(2 + exp(-2.0));
    double want = 3 * (lse - 3) + 1000;
    ck_assert_double_lt(test_rel_err(acc[ACC_LOSS], want, 1.0), TOL);
    for (int i = 0; i < 12; i++)
        ck_assert(isfinite(dz[i]));
    ck_assert_float_eq_tol(dz[9], 1.0f, 1e-6f); /* softmax(row 3) = (1, 0, 0) */
    ck_assert_float_eq_tol(dz[10], -1.0f, 1e-6f);
}
END_TEST

START_TEST(nll_matches_reference)
{
    const int rows = 13, cols = 7;
    size_t n = (size_t)rows * cols;
    uint64_t rng = 900;
    float *z = floats(n), *p = floats(n), *labels = floats(rows), *dp = floats(n);
    double *want_dp = doubles(n);
    test_fill_uniform(z, n, &rng, -3, 3);
    be->softmax_forward(be, p, z, rows, cols);
    p[0 * cols + 2] = p[0 * cols + 4] = 0.9f; /* a tie in row 0: argmax 2 */
    double want_loss = 0, want_correct = 0;
    float scale = 0.25f;
    for (int r = 0; r < rows; r++) {
        int y = r == 0 ? 4 : (int)(test_rand_u64(&rng) % (uint64_t)cols);
        labels[r] = (float)y;
        const float *row = p + (size_t)r * cols;
        want_loss += -log((double)row[y]);
        int best = 0;
        for (int c = 1; c < cols; c++)
            best = row[c] > row[best] ? c : best;
        want_correct += best == y;
        want_dp[(size_t)r * cols + y] = -scale / (double)row[y];
    }
    ck_assert_int_eq((int)labels[0], 4); /* row 0 is the tie and counts as wrong */
    double acc[ACC_SLOTS] = {0};
    be->nll(be, dp, acc, p, labels, rows, cols, scale);
    ck_assert_double_lt(test_rel_err(acc[ACC_LOSS], want_loss, 1.0), TOL);
    ck_assert_double_eq(acc[ACC_CORRECT], want_correct);
    ck_assert_double_eq(acc[ACC_COUNT], rows);
    ck_assert_double_lt(test_max_rel_err(dp, want_dp, n, 1.0), TOL);
    free(z);
    free(p);
    free(labels);
    free(dp);
    free(want_dp);
}
END_TEST

/* ---- regression ---- */

static double regression_ref(enum regression_loss kind, double d, double delta, double *grad)
{
    switch (kind) {
    case RLOSS_MSE:
        *grad = 2 * d;
        return d * d;
    case RLOSS_SQUARED:
        *grad = d;
        return d * d / 2;
    case RLOSS_HUBER:
        if (fabs(d) < delta) {
            *grad = d;
            return d * d / 2;
        }
        *grad = d > 0 ? delta : -delta;
        return delta * (fabs(d) - delta / 2);
    case RLOSS_L1:
        *grad = d > 0 ? 1 : d < 0 ? -1 : 0;
        return fabs(d);
    }
    return NAN;
}

START_TEST(regression_losses)
{
    static const enum regression_loss kinds[] = {RLOSS_MSE, RLOSS_SQUARED, RLOSS_HUBER, RLOSS_L1};
    static const float deltas[] = {1.0f, 0.5f, 2.0f};
    const int rows = 37, cols = 3;
    size_t n = (size_t)rows * cols;
    float *pred = floats(n), *target = floats(n), *dpred = floats(n);
    double *want_grad = doubles(n);
    uint64_t rng = 4242;
    test_fill_uniform(pred, n, &rng, -3, 3);
    test_fill_uniform(target, n, &rng, -3, 3);
    float scale = 1.0f / rows;
    for (int k = 0; k < 4; k++)
        for (int di = 0; di < 3; di++) {
            double want_loss = 0;
            int inside = 0, outside = 0;
            for (size_t i = 0; i < n; i++) {
                double d = (double)pred[i] - target[i], g = 0;
                want_loss += regression_ref(kinds[k], d, deltas[di], &g);
                want_grad[i] = g * scale;
                inside += fabs(d) < deltas[di];
                outside += fabs(d) >= deltas[di];
            }
            ck_assert(inside > 5 && outside > 5); /* both huber branches are exercised */
            double acc[ACC_SLOTS] = {0.5, 0, 7};
            be->regression_loss(be, kinds[k], dpred, acc, pred, target, rows, cols, deltas[di], scale);
            ck_assert_msg(test_rel_err(acc[ACC_LOSS] - 0.5, want_loss, 1.0) < TOL, "kind %d delta %g: loss %g want %g",
                          k, deltas[di], acc[ACC_LOSS] - 0.5, want_loss);
            ck_assert_double_eq(acc[ACC_COUNT], 7 + rows); /* rows, not rows * cols */
            ck_assert_msg(test_max_rel_err(dpred, want_grad, n, 1.0) < TOL, "kind %d delta %g grad", k, deltas[di]);
        }
    free(pred);
    free(target);
    free(dpred);
    free(want_grad);
}
END_TEST

START_TEST(log_sq_error_clamps_pred)
{
    const int n = 101;
    float *pred = floats(n), *target = floats(n);
    uint64_t rng = 8;
    test_fill_uniform(pred, n, &rng, -2, 50); /* some below 1, some negative */
    test_fill_uniform(target, n, &rng, 0.5, 60);
    double want = 0;
    for (int i = 0; i < n; i++) {
        double d = log(pred[i] > 1 ? (double)pred[i] : 1.0) - log((double)target[i]);
        want += d * d;
    }
    double acc[ACC_SLOTS] = {0, 0, 0, 2.0};
    be->log_sq_error(be, acc, pred, target, n);
    ck_assert_double_lt(test_rel_err(acc[ACC_SQERR] - 2.0, want, 1.0), TOL);
    ck_assert_double_eq(acc[ACC_LOSS], 0);
    free(pred);
    free(target);
}
END_TEST

/* ---- penalty ---- */

START_TEST(penalty_l1_l2)
{
    const size_t n = 333;
    float *w = floats(n), *grad = floats(n), *grad0 = floats(n);
    double *want_grad = doubles(n);
    uint64_t rng = 21;
    test_fill_uniform(w, n, &rng, -2, 2);
    w[5] = 0; /* sign(0) = 0 */
    test_fill_uniform(grad0, n, &rng, -1, 1);
    const float lambda = 0.3f, grad_scale = 0.5f, count_scale = 8.0f;
    for (int l1 = 0; l1 < 2; l1++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            double d = l1 ? (w[i] > 0) - (w[i] < 0) : w[i];
            sum += l1 ? fabs(w[i]) : (double)w[i] * w[i] / 2;
            want_grad[i] = grad0[i] + (double)lambda * d * grad_scale;
        }
        memcpy(grad, grad0, n * sizeof *grad);
        double acc[ACC_SLOTS] = {1, 0, 0, 0, 1};
        be->penalty(be, l1, grad, acc, w, n, lambda, grad_scale, count_scale);
        ck_assert_double_lt(test_rel_err(acc[ACC_PENALTY] - 1, lambda * sum * count_scale, 1.0), TOL);
        ck_assert_double_eq(acc[ACC_LOSS], 1);
        ck_assert_msg(test_max_rel_err(grad, want_grad, n, 1.0) < TOL, "penalty l1=%d grad", l1);
        ck_assert_float_eq(grad[5], grad0[5]); /* w = 0 adds nothing, either kind */

        double acc2[ACC_SLOTS] = {0};
        be->penalty(be, l1, NULL, acc2, w, n, lambda, grad_scale, count_scale);
        ck_assert_double_lt(test_rel_err(acc2[ACC_PENALTY], lambda * sum * count_scale, 1.0), TOL);
    }
    free(w);
    free(grad);
    free(grad0);
    free(want_grad);
}
END_TEST

/* ---- gather, fill, step ---- */

START_TEST(gather_rows)
{
    const int n_src = 23, rows = 41, cols = 37;
    uint8_t *x8 = malloc((size_t)n_src * cols);
    float *xf = floats((size_t)n_src * cols), *out = floats((size_t)rows * cols);
    int32_t idx[41];
    uint64_t rng = 6;
    for (int i = 0; i < n_src * cols; i++)
        x8[i] = (uint8_t)(test_rand_u64(&rng) & 0xff);
    test_fill_uniform(xf, (size_t)n_src * cols, &rng, -9, 9);
    for (int r = 0; r < rows; r++) /* repeats and any order */
        idx[r] = (int32_t)(test_rand_u64(&rng) % n_src);
    idx[0] = n_src - 1;
    be->gather_u8(be, out, x8, idx, rows, cols, 1.0f / 255);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            ck_assert_float_eq_tol(out[(size_t)r * cols + c], x8[(size_t)idx[r] * cols + c] / 255.0f, 1e-7f);
    be->gather_f32(be, out, xf, idx, rows, cols);
    for (int r = 0; r < rows; r++)
        ck_assert_int_eq(memcmp(out + (size_t)r * cols, xf + (size_t)idx[r] * cols, cols * sizeof(float)), 0);
    free(x8);
    free(xf);
    free(out);
}
END_TEST

START_TEST(fill_and_step)
{
    float x[19];
    double d[11];
    x[18] = -1;
    be->fill(be, x, 2.5f, 18);
    for (int i = 0; i < 18; i++)
        ck_assert_float_eq(x[i], 2.5f);
    ck_assert_float_eq(x[18], -1); /* exactly n written */
    be->fill_f64(be, d, 1e300, 11);
    for (int i = 0; i < 11; i++)
        ck_assert_double_eq(d[i], 1e300);
    be->fill(be, x, 0, 0);
    uint64_t step = 0xffffffffull;
    be->step_advance(be, &step);
    be->step_advance(be, &step);
    ck_assert_uint_eq(step, 0x100000001ull);
}
END_TEST

START_TEST(alloc_upload_download)
{
    struct err e = {0};
    float src[7] = {1, 2, 3, 4, 5, 6, 7}, back[7] = {0};
    float *dev = be->alloc(be, sizeof src, &e);
    ck_assert_ptr_nonnull(dev);
    be->upload(be, dev, src, sizeof src);
    be->download(be, back, dev, sizeof back);
    ck_assert_int_eq(memcmp(src, back, sizeof src), 0);
    be->release(be, dev);
    void *zero = be->alloc(be, 0, &e); /* size 0 is still a valid pointer */
    ck_assert_ptr_nonnull(zero);
    be->release(be, zero);
    ck_assert_int_eq(e.code, 0);
}
END_TEST

Suite *suite_ops(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("cpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, gemm_all_transposes);
    tcase_add_test(tc, gemm_beta_zero_ignores_nan);
    tcase_add_test(tc, bias_add_and_grad);
    tcase_add_test(tc, activations_forward_backward);
    tcase_add_test(tc, dropout_keeps_fraction_and_scales);
    tcase_add_test(tc, dropout_mask_at_every_offset_and_p);
    tcase_add_test(tc, dropout_mask_is_reproducible);
    tcase_add_test(tc, dropout_slice_draws_the_whole_batchs_masks);
    tcase_add_test(tc, dropout_p_zero_keeps_all);
    tcase_add_test(tc, mul_elementwise);
    tcase_add_test(tc, softmax_forward_backward);
    tcase_add_test(tc, cross_entropy_matches_reference);
    tcase_add_test(tc, cross_entropy_ties_and_large_logits);
    tcase_add_test(tc, nll_matches_reference);
    tcase_add_test(tc, regression_losses);
    tcase_add_test(tc, log_sq_error_clamps_pred);
    tcase_add_test(tc, penalty_l1_l2);
    tcase_add_test(tc, gather_rows);
    tcase_add_test(tc, fill_and_step);
    tcase_add_test(tc, alloc_upload_download);
    suite_add_tcase(s, tc);
    return s;
}
