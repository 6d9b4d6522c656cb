/* train: keys end to end: early stopping on a spec that overfits restores
 * the best epoch's parameters (bit-identical to a run that stops there),
 * a step schedule and gradient clipping reach the optimizer. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "tmpdir.h"

/* 20 noisy rows, 30 inputs: the test loss falls for ~20 epochs, then
 * rises as the model fits the noise. */
static const char overfit_yaml[] = "seed: 42\n"
                                   "data:\n"
                                   "  dataset: synthetic_linear\n"
                                   "  w_fill: 0.5\n"
                                   "  inputs: 30\n"
                                   "  b: 0\n"
                                   "  n_train: 20\n"
                                   "  n_test: 200\n"
                                   "  noise: 4\n"
                                   "  batch_size: 5\n"
                                   "model:\n"
                                   "  - linear: {out: 1}\n"
                                   "loss: squared\n"
                                   "optimizer: {sgd: {lr: 0.005}}\n"
                                   "train:\n"
                                   "  epochs: 200\n";

static const char *overfit_spec(void)
{
    return tmp_write("overfit.yaml", overfit_yaml, sizeof overfit_yaml - 1);
}

static struct proc_result run_ok(const char *args)
{
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
    return r;
}

/* The loss (or test_loss) of every epoch line; returns how many. */
static int epoch_values(const char *out, const char *key, double *values, int cap)
{
    int n = 0;
    char pattern[32];
    snprintf(pattern, sizeof pattern, " %s ", key);
    for (const char *line = out; line && *line && n < cap; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "epoch ", 6))
            continue;
        const char *v = strstr(line, pattern);
        ck_assert_ptr_nonnull(v);
        values[n++] = strtod(v + strlen(pattern), NULL);
    }
    return n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *data = malloc(1 << 20);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

START_TEST(early_stop_restores_best_epoch)
{
    tmp_dir_make("earlystop");
    const char *spec = overfit_spec();
    char args[1024], out_a[512], out_b[512];
    snprintf(out_a, sizeof out_a, "%s", tmp_path("a"));
    snprintf(out_b, sizeof out_b, "%s", tmp_path("b"));
    snprintf(args, sizeof args, "run %s --device cpu --set 'train.early_stop={metric: test_loss, patience: 5}' --out %s",
             spec, out_a);
    struct proc_result r = run_ok(args);
    double test_loss[200];
    int n = epoch_values(r.out, "test_loss", test_loss, 200);
    int best = 0;
    for (int i = 1; i < n; i++)
        if (test_loss[i] < test_loss[best])
            best = i;
    /* it overfits: the best epoch is early, and 5 epochs without improvement end the run */
    ck_assert_int_gt(best, 2);
    ck_assert_int_eq(n, best + 1 + 5);
    char want[128];
    snprintf(want, sizeof want, "restored the parameters of epoch %d (best test_loss", best + 1);
    ck_assert_msg(strstr(r.out, "early stop: test_loss did not improve for 5 epochs") && strstr(r.out, want),
                  "%s", r.out);
    /* what it saved is what a run that ends at the best epoch saves */
    snprintf(args, sizeof args, "run %s --device cpu --set train.epochs=%d --out %s", spec, best + 1, out_b);
    struct proc_result rb = run_ok(args);
    char path_a[600], path_b[600];
    snprintf(path_a, sizeof path_a, "%s/model.safetensors", out_a);
    snprintf(path_b, sizeof path_b, "%s/model.safetensors", out_b);
    size_t la, lb;
    char *a = read_file(path_a, &la), *b = read_file(path_b, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(a, b, la) == 0, "the restored parameters differ from epoch %d's", best + 1);
    /* and its printed w lines too */
    ck_assert_ptr_nonnull(strstr(r.out, strstr(rb.out, "\nw ")));
    free(a), free(b);
    proc_result_free(&r);
    proc_result_free(&rb);
    tmp_dir_remove();
}
END_TEST

/* A schedule that divides the rate by 1e9 after epoch 2 all but stops
 * training there; the constant rate keeps going. */
START_TEST(step_schedule_reaches_the_optimizer)
{
    tmp_dir_make("schedule");
    const char *spec = overfit_spec();
    char args[1024];
    double with[6], without[6];
    snprintf(args, sizeof args, "run %s --device cpu --set train.epochs=6", spec);
    struct proc_result r = run_ok(args);
    ck_assert_int_eq(epoch_values(r.out, "loss", without, 6), 6);
    proc_result_free(&r);
    snprintf(args, sizeof args,
             "run %s --device cpu --set train.epochs=6 --set 'train.lr_schedule={step: {every: 2, gamma: 1e-9}}'", spec);
    r = run_ok(args);
    ck_assert_int_eq(epoch_values(r.out, "loss", with, 6), 6);
    proc_result_free(&r);
    ck_assert(with[0] == without[0] && with[1] == without[1]); /* the first two epochs at the base rate */
    ck_assert_double_eq_tol(with[5], with[1], 1e-5 * with[1]);
    ck_assert_double_lt(without[5], 0.9 * without[1]);
    tmp_dir_remove();
}
END_TEST

/* A tiny max norm: each step moves the parameters by at most lr * 1e-6. */
START_TEST(clipping_reaches_the_optimizer)
{
    tmp_dir_make("clip");
    const char *spec = overfit_spec();
    char args[1024];
    double loss[4];
    snprintf(args, sizeof args, "run %s --device cpu --set train.epochs=4 --set train.clip_grad_norm=1e-6", spec);
    struct proc_result r = run_ok(args);
    ck_assert_int_eq(epoch_values(r.out, "loss", loss, 4), 4);
    ck_assert_double_eq_tol(loss[3], loss[0], 1e-5 * loss[0]);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

Suite *suite_train_options(void)
{
    Suite *s = suite_create("train_options");
    TCase *tc = tcase_create("train_options");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, early_stop_restores_best_epoch);
    tcase_add_test(tc, step_schedule_reaches_the_optimizer);
    tcase_add_test(tc, clipping_reaches_the_optimizer);
    suite_add_tcase(s, tc);
    return s;
}
