/* The shared random numbers: Philox-4x32-10 against the Random123
 * known-answer vectors, the epoch shuffle, and parameter initialisation
 * against torch.nn.init's distributions. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/train.h"
#include "testutil.h"

/* ---- Philox ---- */

/* Random123's kat_vectors for philox4x32_10: counter words c0..c3, key
 * words k0, k1, expected output. philox4x32(hi, lo, key) packs c0, c1 from
 * lo, c2, c3 from hi and k0, k1 from key's low and high halves. */
struct philox_kat {
    uint32_t c[4], k[2], want[4];
};

static const struct philox_kat philox_kats[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

START_TEST(philox_known_answers)
{
    const struct philox_kat *t = &philox_kats[_i];
    uint64_t lo = (uint64_t)t->c[1] << 32 | t->c[0], hi = (uint64_t)t->c[3] << 32 | t->c[2];
    uint64_t key = (uint64_t)t->k[1] << 32 | t->k[0];
    struct philox4 r = philox4x32(hi, lo, key);
    for (int j = 0; j < 4; j++)
        ck_assert_msg(r.v[j] == t->want[j], "kat %d word %d: %08x want %08x", _i, j, r.v[j], t->want[j]);
}
END_TEST

START_TEST(philox_uniform_range)
{
    ck_assert_float_eq(philox_uniform(0), 0.0f);
    ck_assert_float_lt(philox_uniform(0xffffffffu), 1.0f); /* [0, 1): 24 bits never round up to 1 */
    ck_assert_float_eq(philox_uniform(0x80000000u), 0.5f);
    /* streams of one seed get different keys */
    ck_assert_uint_ne(philox_key(1, RNG_INIT), philox_key(1, RNG_DROPOUT));
    ck_assert_uint_ne(philox_key(1, RNG_SHUFFLE), philox_key(2, RNG_SHUFFLE));
}
END_TEST

/* dropout_uniform draws element i from word i % 4 of block i / 4. */
START_TEST(dropout_uniform_layout)
{
    for (uint64_t i = 0; i < 12; i++) {
        struct philox4 r = philox4x32(((uint64_t)3 << 40) ^ 17, i / 4, philox_key(5, RNG_DROPOUT));
        ck_assert_float_eq(dropout_uniform(5, 3, 17, i), philox_uniform(r.v[i % 4]));
    }
}
END_TEST

/* ---- shuffle ---- */

static bool is_permutation(const int32_t *idx, size_t n)
{
    char *seen = calloc(n ? n : 1, 1);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        ok = idx[i] >= 0 && (size_t)idx[i] < n && !seen[idx[i]];
        if (ok)
            seen[idx[i]] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(shuffle_is_reproducible_permutation)
{
    const size_t n = 1001;
    int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    shuffle_indices(a, n, 42, 3);
    ck_assert(is_permutation(a, n));
    shuffle_indices(b, n, 42, 3);
    ck_assert_int_eq(memcmp(a, b, n * sizeof *a), 0);

    size_t moved = 0, differ_epoch = 0, differ_seed = 0;
    for (size_t i = 0; i < n; i++)
        moved += (size_t)a[i] != i;
    shuffle_indices(b, n, 42, 4);
    ck_assert(is_permutation(b, n));
    for (size_t i = 0; i < n; i++)
        differ_epoch += a[i] != b[i];
    shuffle_indices(b, n, 43, 3);
    for (size_t i = 0; i < n; i++)
        differ_seed += a[i] != b[i];
    /* a random permutation fixes about one point; two agree in about one */
    ck_assert_uint_gt(moved, n - 10);
    ck_assert_uint_gt(differ_epoch, n - 10);
    ck_assert_uint_gt(differ_seed, n - 10);

    int32_t one = -1;
    shuffle_indices(&one, 1, 42, 0);
    ck_assert_int_eq(one, 0);
    shuffle_indices(NULL, 0, 42, 0); /* nothing to do, nothing touched */
    free(a);
    free(b);
}
END_TEST

/* Each value lands in each position with probability 1/n: a chi-square
 * over the n x n table of (value, position) counts. */
START_TEST(shuffle_is_uniform)
{
    enum { N = 5, DRAWS = 20000 };
    int counts[N][N] = {{0}};
    int32_t idx[N];
    for (int d = 0; d < DRAWS; d++) {
        shuffle_indices(idx, N, 7, (uint64_t)d);
        for (int pos = 0; pos < N; pos++)
            counts[idx[pos]][pos]++;
    }
    double expected = (double)DRAWS / N, chi2 = 0;
    for (int v = 0; v < N; v++)
        for (int pos = 0; pos < N; pos++)
            chi2 += (counts[v][pos] - expected) * (counts[v][pos] - expected) / expected;
    /* (N-1)^2 = 16 degrees of freedom: mean 16, P(chi2 > 50) < 1e-4 */
    ck_assert_msg(chi2 < 50, "chi-square %g over 16 degrees of freedom", chi2);

    /* all 3! orders of three items come up about equally often */
    int orders[3][3][3] = {{{0}}};
    for (int d = 0; d < 6000; d++) {
        int32_t three[3];
        shuffle_indices(three, 3, 11, (uint64_t)d);
        orders[three[0]][three[1]][three[2]]++;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++)
                if (i != j && j != k && i != k) /* binomial sd ~29 around 1000 */
                    ck_assert_msg(abs(orders[i][j][k] - 1000) < 150, "order %d%d%d: %d of 6000", i, j, k,
                                  orders[i][j][k]);
}
END_TEST

/* ---- init ---- */

#define N_INIT 100000

struct moments {
    double mean, std, kurtosis, min, max;
};

static struct moments moments_of(const float *w, size_t n)
{
    struct moments m = {0, 0, 0, INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        m.mean += w[i];
        m.min = w[i] < m.min ? w[i] : m.min;
        m.max = w[i] > m.max ? w[i] : m.max;
    }
    m.mean /= n;
    double m2 = 0, m4 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = w[i] - m.mean;
        m2 += d * d;
        m4 += d * d * d * d;
    }
    m2 /= n;
    m4 /= n;
    m.std = sqrt(m2);
    m.kurtosis = m4 / (m2 * m2);
    return m;
}

static float *init_sample(enum init_kind kind, double a, double b, int fan_in, int fan_out, uint64_t seed)
{
    float *w = malloc(N_INIT * sizeof *w);
    struct init_spec spec = {kind, a, b};
    init_fill(w, N_INIT, &spec, fan_in, fan_out, seed, 0);
    return w;
}

/* Sample mean and std within ~5 standard errors (sd/sqrt(n), sd/sqrt(2n)),
 * kurtosis 3 within 0.1 (standard error sqrt(24/n) ~ 0.015). */
static void check_normal(const float *w, double mean, double std)
{
    struct moments m = moments_of(w, N_INIT);
    ck_assert_msg(fabs(m.mean - mean) < 5 * std / sqrt(N_INIT), "mean %g want %g", m.mean, mean);
    ck_assert_msg(fabs(m.std - std) < 5 * std / sqrt(2.0 * N_INIT), "std %g want %g", m.std, std);
    ck_assert_msg(fabs(m.kurtosis - 3) < 0.1, "kurtosis %g, normal 3", m.kurtosis);
}

/* Within [low, high), reaching both ends, with the moments of U(low, high)
 * (kurtosis 1.8). */
static void check_uniform(const float *w, double low, double high)
{
    struct moments m = moments_of(w, N_INIT);
    double width = high - low;
    ck_assert_msg(m.min >= low && m.max <= high, "range [%g, %g] outside [%g, %g]", m.min, m.max, low, high);
    ck_assert_msg(m.min < low + 1e-3 * width && m.max > high - 1e-3 * width, "range [%g, %g] short of [%g, %g)",
                  m.min, m.max, low, high);
    ck_assert_msg(fabs(m.mean - (low + high) / 2) < 5 * width / sqrt(12.0 * N_INIT), "mean %g", m.mean);
    ck_assert_msg(fabs(m.std - width / sqrt(12.0)) < 0.01 * width, "std %g", m.std);
    ck_assert_msg(fabs(m.kurtosis - 1.8) < 0.05, "kurtosis %g, uniform 1.8", m.kurtosis);
}

START_TEST(init_normal)
{
    float *w = init_sample(INIT_NORMAL, 0.3, 2.0, 10, 10, 1);
    check_normal(w, 0.3, 2.0);
    free(w);
}
END_TEST

START_TEST(init_uniform)
{
    float *w = init_sample(INIT_UNIFORM, -0.5, 1.5, 10, 10, 2);
    check_uniform(w, -0.5, 1.5);
    free(w);
}
END_TEST

/* torch.nn.init: xavier_uniform_ bound = gain sqrt(6 / (fan_in + fan_out));
 * xavier_normal_ std = gain sqrt(2 / (fan_in + fan_out)). */
START_TEST(init_xavier)
{
    float *w = init_sample(INIT_XAVIER_UNIFORM, 1.5, 0, 30, 50, 3);
    double bound = 1.5 * sqrt(6.0 / 80);
    check_uniform(w, -bound, bound);
    free(w);
    w = init_sample(INIT_XAVIER_NORMAL, 2.0, 0, 30, 50, 3);
    check_normal(w, 0, 2.0 * sqrt(2.0 / 80));
    free(w);
}
END_TEST

/* kaiming_uniform_(nonlinearity='relu'): bound = sqrt(2) sqrt(3 / fan_in);
 * kaiming_normal_: std = sqrt(2 / fan_in); fan_out plays no part. */
START_TEST(init_kaiming)
{
    float *w = init_sample(INIT_KAIMING_UNIFORM, 0, 0, 40, 7, 4);
    double bound = sqrt(2.0) * sqrt(3.0 / 40);
    check_uniform(w, -bound, bound);
    free(w);
    w = init_sample(INIT_KAIMING_NORMAL, 0, 0, 40, 7, 4);
    check_normal(w, 0, sqrt(2.0 / 40));
    free(w);
}
END_TEST

/* nn.Linear's default, kaiming_uniform_(a=sqrt(5)) for the weight and
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias: both bound 1/sqrt(fan_in). */
START_TEST(init_torch_default)
{
    float *w = init_sample(INIT_TORCH_DEFAULT, 0, 0, 40, 7, 4);
    check_uniform(w, -1 / sqrt(40.0), 1 / sqrt(40.0));
    free(w);
}
END_TEST

/* d2l 5.3's my_init: U(-10, 10), then 0 where |w| < 5 (half the values). */
START_TEST(init_my_init)
{
    float *w = init_sample(INIT_MY_INIT, 0, 0, 4, 8, 4);
    int zeros = 0;
    double lo = 0, hi = 0;
    for (int i = 0; i < N_INIT; i++) {
        ck_assert_msg(w[i] == 0 || (fabsf(w[i]) >= 5 && fabsf(w[i]) <= 10), "w[%d] = %g", i, w[i]);
        zeros += w[i] == 0;
        lo = fmin(lo, w[i]);
        hi = fmax(hi, w[i]);
    }
    ck_assert_msg(fabs(zeros / (double)N_INIT - 0.5) < 0.02, "%d zeros of %d", zeros, N_INIT);
    ck_assert(lo < -9.9 && hi > 9.9);
    free(w);
}
END_TEST

START_TEST(init_constant_and_zeros)
{
    float w[9];
    struct init_spec c = {INIT_CONSTANT, 0.25, 0}, z = {INIT_ZEROS, 5, 5};
    init_fill(w, 9, &c, 3, 3, 1, 0);
    for (int i = 0; i < 9; i++)
        ck_assert_float_eq(w[i], 0.25f);
    init_fill(w, 9, &z, 3, 3, 1, 0);
    for (int i = 0; i < 9; i++)
        ck_assert_float_eq(w[i], 0);
}
END_TEST

/* Same seed and counter, same numbers; another seed or a disjoint counter
 * range, other numbers. Odd lengths fill every element. */
START_TEST(init_is_reproducible)
{
    static const struct init_spec kinds[] = {{INIT_NORMAL, 0, 1}, {INIT_UNIFORM, -1, 1}};
    enum { N = 1001 };
    float a[N], b[N], c[N], d[N];
    for (int k = 0; k < 2; k++) {
        a[N - 1] = b[N - 1] = NAN;
        init_fill(a, N, &kinds[k], 5, 5, 42, 0);
        init_fill(b, N, &kinds[k], 5, 5, 42, 0);
        init_fill(c, N, &kinds[k], 5, 5, 43, 0);
        init_fill(d, N, &kinds[k], 5, 5, 42, N); /* the next tensor's counters */
        ck_assert(isfinite(a[N - 1]));
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        int same_seed = 0, same_counter = 0;
        for (int i = 0; i < N; i++) {
            same_seed += a[i] == c[i];
            same_counter += a[i] == d[i];
        }
        ck_assert_int_lt(same_seed, 5);
        ck_assert_int_lt(same_counter, 5);
    }
}
END_TEST

Suite *suite_rng(void)
{
    Suite *s = suite_create("rng");
    TCase *philox = tcase_create("philox");
    tcase_add_loop_test(philox, philox_known_answers, 0, (int)(sizeof philox_kats / sizeof philox_kats[0]));
    tcase_add_test(philox, philox_uniform_range);
    tcase_add_test(philox, dropout_uniform_layout);
    suite_add_tcase(s, philox);
    TCase *shuffle = tcase_create("shuffle");
    tcase_add_test(shuffle, shuffle_is_reproducible_permutation);
    tcase_add_test(shuffle, shuffle_is_uniform);
    suite_add_tcase(s, shuffle);
    TCase *init = tcase_create("init");
    tcase_add_test(init, init_normal);
    tcase_add_test(init, init_uniform);
    tcase_add_test(init, init_xavier);
    tcase_add_test(init, init_kaiming);
    tcase_add_test(init, init_torch_default);
    tcase_add_test(init, init_my_init);
    tcase_add_test(init, init_constant_and_zeros);
    tcase_add_test(init, init_is_reproducible);
    suite_add_tcase(s, init);
    return s;
}
