/* The CPU backend's oneDNN GEMMs beyond what test_ops checks of gemm: the
 * fused linear_forward against a float64 reference, the per-thread
 * primitive cache (shapes interleaved, more shapes than it holds, threads
 * at once) and the opt-in bf16 mode. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu_gemm.h"
#include "proc.h"
#include "testutil.h"

#define TOL_SUM 1e-4 /* float32 accumulation over k terms, as test_ops */
/* bf16 GEMMs round A and B to 8 significant bits (relative 2^-9) and
 * accumulate in FP32: on k products of uniform(-1, 1) data the error of a
 * result, relative to the row's largest magnitude, stays well under 1e-2
 * (docs/SPEC.md states this bound). */
#define TOL_BF16 1e-2

static float *floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static double act_ref(int act, double x)
{
    return act < 0 ? x : act == ACT_RELU ? (x > 0 ? x : 0) : act == ACT_SIGMOID ? 1 / (1 + exp(-x)) : tanh(x);
}

/* out = act(in W^T + bias) in float64; act -1 for none. */
static void linear_ref(double *want, const float *in, const float *w, const float *bias, int rows, int in_w,
                       int out_w, int act)
{
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out_w; o++) {
            double sum = bias ? bias[o] : 0;
            for (int i = 0; i < in_w; i++)
                sum += (double)in[(size_t)r * in_w + i] * w[(size_t)o * in_w + i];
            want[(size_t)r * out_w + o] = act_ref(act, sum);
        }
}

START_TEST(linear_forward_matches_reference)
{
    static const int dims[][3] = {{1, 1, 1}, {3, 7, 5}, {17, 9, 33}, {64, 130, 31}, {256, 784, 10}};
    struct backend *be = test_cpu_backend();
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int rows = dims[d][0], in_w = dims[d][1], out_w = dims[d][2];
        uint64_t rng = 77 + d;
        float *in = floats((size_t)rows * in_w), *w = floats((size_t)out_w * in_w), *bias = floats(out_w);
        float *out = floats((size_t)rows * out_w);
        double *want = calloc((size_t)rows * out_w, sizeof *want);
        test_fill_uniform(in, (size_t)rows * in_w, &rng, -1, 1);
        test_fill_uniform(w, (size_t)out_w * in_w, &rng, -0.5, 0.5);
        test_fill_uniform(bias, out_w, &rng, -1, 1);
        for (int act = -1; act <= ACT_TANH; act++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                for (size_t i = 0; i < (size_t)rows * out_w; i++)
                    out[i] = NAN; /* every element must be written */
                be->linear_forward(be, out, in, w, with_bias ? bias : NULL, rows, in_w, out_w, act >= 0,
                                   act >= 0 ? (enum activation)act : ACT_RELU);
                linear_ref(want, in, w, with_bias ? bias : NULL, rows, in_w, out_w, act);
                double err = test_max_rel_err(out, want, (size_t)rows * out_w, 1.0);
                ck_assert_msg(err < TOL_SUM, "linear_forward %dx%d->%d act %d bias %d: rel err %g", rows, in_w,
                              out_w, act, with_bias, err);
            }
        free(in);
        free(w);
        free(bias);
        free(out);
        free(want);
    }
    be->destroy(be);
}
END_TEST

/* C = A B for an m x k . k x n problem made from a seed; returns the
 * worst relative error against float64. */
static double gemm_error(struct backend *be, int m, int n, int k, uint64_t seed)
{
    float *a = floats((size_t)m * k), *b = floats((size_t)k * n), *c = floats((size_t)m * n);
    double *want = calloc((size_t)m * n, sizeof *want);
    test_fill_uniform(a, (size_t)m * k, &seed, -1, 1);
    test_fill_uniform(b, (size_t)k * n, &seed, -1, 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int p = 0; p < k; p++)
                sum += (double)a[(size_t)i * k + p] * b[(size_t)p * n + j];
            want[(size_t)i * n + j] = sum;
        }
    be->gemm(be, false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    double err = test_max_rel_err(c, want, (size_t)m * n, 1.0);
    free(a);
    free(b);
    free(c);
    free(want);
    return err;
}

/* More distinct shapes than the cache holds, twice over and interleaved:
 * a primitive found under the wrong key, or one evicted while in use,
 * gives wrong numbers. */
START_TEST(cache_many_shapes_interleaved)
{
    struct backend *be = test_cpu_backend();
    for (int round = 0; round < 2; round++)
        for (int s = 1; s <= 90; s++) {
            int m = s % 13 + 1, n = s % 7 + 1 + s / 13, k = s % 5 + 2 * (s / 7) + 1;
            double err = gemm_error(be, m, n, k, (uint64_t)s * 31 + round);
            ck_assert_msg(err < TOL_SUM, "round %d shape %d (%dx%dx%d): rel err %g", round, s, m, n, k, err);
        }
    be->destroy(be);
}
END_TEST

/* A small GEMM runs on the calling thread and a large one on the team, in
 * slices of rows (a tall C) or of columns (a wide one), one after the
 * other, all right; so is a wide linear layer, whose bias is sliced with
 * its columns. */
START_TEST(small_and_large_gemms_on_a_team)
{
    struct backend *be = test_cpu_backend();
    cpu_threads_set(3);
    for (int round = 0; round < 2; round++) {
        double small = gemm_error(be, 64, 1, 330, 1), rows = gemm_error(be, 256, 256, 784, 2),
               columns = gemm_error(be, 20, 1000, 300, 3);
        ck_assert_msg(small < TOL_SUM && rows < TOL_SUM && columns < TOL_SUM, "rel err %g, %g, %g", small, rows,
                      columns);
    }
    enum { ROWS = 8, IN = 300, OUT = 1000 };
    uint64_t rng = 9;
    float *in = floats((size_t)ROWS * IN), *w = floats((size_t)OUT * IN), *bias = floats(OUT), *out = floats(ROWS * OUT);
    double *want = calloc((size_t)ROWS * OUT, sizeof *want);
    test_fill_uniform(in, (size_t)ROWS * IN, &rng, -1, 1);
    test_fill_uniform(w, (size_t)OUT * IN, &rng, -0.5, 0.5);
    test_fill_uniform(bias, OUT, &rng, -1, 1);
    be->linear_forward(be, out, in, w, bias, ROWS, IN, OUT, true, ACT_SIGMOID);
    linear_ref(want, in, w, bias, ROWS, IN, OUT, ACT_SIGMOID);
    double err = test_max_rel_err(out, want, (size_t)ROWS * OUT, 1.0);
    ck_assert_msg(err < TOL_SUM, "wide linear_forward on a team of 3: rel err %g", err);
    free(in), free(w), free(bias), free(out), free(want);
    cpu_threads_set(0);
    be->destroy(be);
}
END_TEST

struct thread_job {
    struct backend *be;
    int id;
    double worst;
};

static void *gemm_thread(void *arg)
{
    struct thread_job *j = arg;
    cpu_threads_set(1);
    for (int it = 0; it < 40; it++) {
        int m = 8 + (j->id * 5 + it) % 24, n = 4 + (j->id + it) % 19, k = 3 + (it * 7) % 41;
        double err = gemm_error(j->be, m, n, k, (uint64_t)j->id * 1000 + it);
        j->worst = err > j->worst ? err : j->worst;
    }
    cpu_gemm_release_thread();
    return NULL;
}

/* k-fold's case: threads sharing one backend, each with its own cache. */
START_TEST(threads_share_the_backend)
{
    struct backend *be = test_cpu_backend();
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    struct thread_job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct thread_job){.be = be, .id = i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, gemm_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(jobs[i].worst < TOL_SUM, "thread %d: rel err %g", i, jobs[i].worst);
    }
    be->destroy(be);
}
END_TEST

/* Where the processor has bf16, cpu_bf16 changes the numbers (bf16 really
 * is used) and stays within TOL_BF16 of float64, at the MLP's layer-1
 * shape; where it has not, the backend falls back to FP32 and gives the
 * FP32 numbers. */
START_TEST(bf16_within_bound_or_fp32)
{
    enum { M = 64, N = 256, K = 784 };
    struct err e = {0};
    struct backend *fp32 = test_cpu_backend(), *bf16 = cpu_backend_create(true, &e);
    ck_assert_msg(bf16 != NULL, "%s", e.msg);
    uint64_t rng = 5;
    float *a = floats((size_t)M * K), *b = floats((size_t)N * K), *c32 = floats((size_t)M * N),
          *c16 = floats((size_t)M * N);
    test_fill_uniform(a, (size_t)M * K, &rng, -1, 1);
    test_fill_uniform(b, (size_t)N * K, &rng, -1, 1);
    fp32->linear_forward(fp32, c32, a, b, NULL, M, K, N, false, ACT_RELU);
    bf16->linear_forward(bf16, c16, a, b, NULL, M, K, N, false, ACT_RELU);
    double *want = calloc((size_t)M * N, sizeof *want);
    linear_ref(want, a, b, NULL, M, K, N, -1);
    double row_max = 0, worst16 = 0, worst32 = 0;
    for (size_t i = 0; i < (size_t)M * N; i++)
        row_max = fmax(row_max, fabs(want[i]));
    for (size_t i = 0; i < (size_t)M * N; i++) {
        worst16 = fmax(worst16, fabs(c16[i] - want[i]) / row_max);
        worst32 = fmax(worst32, fabs(c32[i] - want[i]) / row_max);
    }
    if (cpu_gemm_bf16_usable()) {
        ck_assert_msg(worst16 < TOL_BF16, "bf16 GEMM: error %g of the largest result", worst16);
        ck_assert_msg(worst16 > 10 * worst32, "bf16 GEMM error %g is FP32's (%g): was bf16 used?", worst16,
                      worst32);
    } else {
        ck_assert_msg(!memcmp(c16, c32, (size_t)M * N * sizeof *c16), "without bf16 the GEMMs must be FP32's");
    }
    free(a);
    free(b);
    free(c32);
    free(c16);
    free(want);
    bf16->destroy(bf16);
    fp32->destroy(fp32);
}
END_TEST

/* Through the binary, with oneDNN held to AVX2 (no bf16 anywhere): the
 * notice, and the FP32 run's numbers. */
START_TEST(cpu_bf16_without_kernel_is_fp32_with_a_notice)
{
    const char *bin = getenv("D2LTRAIN");
    char command[4096];
    snprintf(command, sizeof command, "ONEDNN_MAX_CPU_ISA=AVX2 '%s' run configs/linreg.yaml --device cpu %s",
             bin && *bin ? bin : "./d2ltrain", "--set cpu_bf16=true");
    struct proc_result asked = run_shell(command);
    struct proc_result plain = run_d2ltrain("run configs/linreg.yaml --device cpu");
    ck_assert_msg(asked.status == 0, "exit %d: %s", asked.status, asked.err);
    ck_assert_msg(strstr(asked.err, "cpu_bf16: oneDNN") && strstr(asked.err, "stay FP32"), "no notice: %s",
                  asked.err);
    ck_assert_msg(!strstr(plain.err, "cpu_bf16"), "a notice nobody asked for: %s", plain.err);
    char *a = epoch_lines_without_time(asked.out), *p = epoch_lines_without_time(plain.out);
    ck_assert_int_gt(strlen(p), 0);
    ck_assert_str_eq(a, p);
    free(a), free(p);
    proc_result_free(&asked);
    proc_result_free(&plain);
}
END_TEST

/* libgomp, told to show its settings when oneDNN loads it (info does),
 * shows passive waiting (no spinning) unless the environment asks for
 * active. */
START_TEST(openmp_waits_passively_by_default)
{
    const char *bin = getenv("D2LTRAIN");
    static const struct {
        const char *env, *want;
    } cases[] = {{"", "GOMP_SPINCOUNT = '0'"}, {"OMP_WAIT_POLICY=active", "OMP_WAIT_POLICY = 'ACTIVE'"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char command[4096];
        snprintf(command, sizeof command, "env -u OMP_WAIT_POLICY %s OMP_DISPLAY_ENV=verbose '%s' info",
                 cases[i].env, bin && *bin ? bin : "./d2ltrain");
        struct proc_result r = run_shell(command);
        ck_assert_msg(r.status == 0 && strstr(r.err, cases[i].want), "'%s': exit %d, no \"%s\" in %s", command,
                      r.status, cases[i].want, r.err);
        proc_result_free(&r);
    }
}
END_TEST

START_TEST(threads_option)
{
    static const char *const bad[] = {"0", "-1", "x", "2x", "1025", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "run configs/linreg.yaml --threads '%s'", bad[i]);
        struct proc_result r = run_d2ltrain(args);
        ck_assert_msg(r.status == 2 && strstr(r.err, "--threads"), "'%s': exit %d: %s", bad[i], r.status, r.err);
        proc_result_free(&r);
    }
    /* a fold's numbers do not depend on how many folds run side by side */
    const char *kfold = "kfold configs/linreg.yaml --device cpu --set kfold.k=3 --set kfold.metric=loss";
    char args[256];
    snprintf(args, sizeof args, "%s --threads 1", kfold);
    struct proc_result one = run_d2ltrain(args);
    snprintf(args, sizeof args, "%s --threads=3", kfold);
    struct proc_result three = run_d2ltrain(args);
    ck_assert_msg(one.status == 0 && three.status == 0, "exit %d/%d: %s%s", one.status, three.status, one.err,
                  three.err);
    const char *a = strstr(one.out, "3-fold validation"), *b = strstr(three.out, "3-fold validation");
    ck_assert_msg(a && b, "%s\n%s", one.out, three.out);
    ck_assert_str_eq(a, b);
    proc_result_free(&one);
    proc_result_free(&three);
}
END_TEST

Suite *suite_cpu_gemm(void)
{
    Suite *s = suite_create("cpu_gemm");
    TCase *tc = tcase_create("cpu_gemm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, linear_forward_matches_reference);
    tcase_add_test(tc, cache_many_shapes_interleaved);
    tcase_add_test(tc, small_and_large_gemms_on_a_team);
    tcase_add_test(tc, threads_share_the_backend);
    tcase_add_test(tc, bf16_within_bound_or_fp32);
    tcase_add_test(tc, cpu_bf16_without_kernel_is_fp32_with_a_notice);
    tcase_add_test(tc, threads_option);
    tcase_add_test(tc, openmp_waits_passively_by_default);
    suite_add_tcase(s, tc);
    return s;
}
