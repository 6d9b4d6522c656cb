/* kfold runs folds side by side only on a backend that says several threads
 * may share it (struct backend's shared_by_threads), whatever its name. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../core/kfold.h"
#include "../core/data_open.h"
#include "testutil.h"

static pthread_t caller;
static atomic_int on_caller, off_caller;
static void (*cpu_linear_forward)(struct backend *, float *, const float *, const float *, const float *, int, int,
                                  int, bool, enum activation);

/* The CPU's linear_forward, counting the threads it is called on. */
static void counted_linear_forward(struct backend *be, float *out, const float *in, const float *w,
                                   const float *bias, int rows, int in_w, int out_w, bool has_act,
                                   enum activation act)
{
    atomic_fetch_add(pthread_equal(pthread_self(), caller) ? &on_caller : &off_caller, 1);
    cpu_linear_forward(be, out, in, w, bias, rows, in_w, out_w, has_act, act);
}

/* A k-fold spec of synthetic linear data, its data and the CPU backend;
 * be is a copy of it for a test to change. */
struct fold_setup {
    struct spec *s;
    struct data_split data;
    struct backend *cpu, be;
};

static void fold_setup_open(struct fold_setup *f, const char *yaml)
{
    struct err e = {0};
    *f = (struct fold_setup){.s = malloc(sizeof *f->s)};
    ck_assert_ptr_nonnull(f->s);
    ck_assert_msg(spec_load_string(f->s, "k.yaml", yaml, strlen(yaml), NULL, 0, &e) == 0, "%s", e.msg);
    struct fetch_options fo = fetch_options_default();
    ck_assert_msg(dataset_open(&f->s->data, f->s->seed, &fo, &f->data, &e) == 0, "%s", e.msg);
    f->cpu = test_cpu_backend();
    f->be = *f->cpu;
}

static void fold_setup_close(struct fold_setup *f)
{
    data_split_free(&f->data);
    f->cpu->destroy(f->cpu);
    free(f->s);
}

/* Runs 4 folds with 4 threads on the CPU backend as it is but for
 * shared_by_threads and the counting (the name stays "cpu"); *on and *off
 * count the linear layers run on the calling thread and on others. */
static void run_folds(bool shared_by_threads, int *on, int *off)
{
    struct fold_setup f;
    fold_setup_open(&f, "data: {dataset: synthetic_linear, w: [1, -2], n_train: 40, batch_size: 8}\n"
                        "model:\n  - linear: {out: 1}\nloss: mse\noptimizer: {sgd: {lr: 0.05}}\n"
                        "train: {epochs: 2}\nkfold: {k: 4}\n");
    ck_assert_str_eq(f.be.name, "cpu");
    f.be.shared_by_threads = shared_by_threads;
    cpu_linear_forward = f.cpu->linear_forward;
    f.be.linear_forward = counted_linear_forward;
    caller = pthread_self();
    atomic_store(&on_caller, 0);
    atomic_store(&off_caller, 0);
    struct fold_result results[4];
    struct err e = {0};
    ck_assert_msg(kfold_run(f.s, &f.be, &f.data.train, 4, results, &e) == 0, "%s", e.msg);
    *on = atomic_load(&on_caller);
    *off = atomic_load(&off_caller);
    kfold_results_free(results, 4);
    fold_setup_close(&f);
}

START_TEST(folds_share_only_a_backend_that_says_so)
{
    int on, off;
    run_folds(false, &on, &off);
    ck_assert_msg(on > 0 && off == 0, "not shared: %d calls on the calling thread, %d on others", on, off);
    run_folds(true, &on, &off);
    ck_assert_msg(on == 0 && off > 0, "shared: %d calls on the calling thread, %d on others", on, off);
}
END_TEST

static pthread_t poisoned;
static atomic_bool poison_taken;
static void (*cpu_regression_loss)(struct backend *, enum regression_loss, float *, double *, const float *,
                                   const float *, int, int, float, float);

/* The CPU's regression loss, but a NaN loss on the first thread that asks:
 * that thread's fold fails in its first epoch, the others train on. */
static void poisoned_regression_loss(struct backend *be, enum regression_loss kind, float *dpred, double *acc,
                                     const float *pred, const float *target, int rows, int cols, float delta,
                                     float grad_scale)
{
    cpu_regression_loss(be, kind, dpred, acc, pred, target, rows, cols, delta, grad_scale);
    bool expected = false;
    if (atomic_compare_exchange_strong(&poison_taken, &expected, true))
        poisoned = pthread_self();
    if (pthread_equal(pthread_self(), poisoned))
        acc[ACC_LOSS] = NAN;
}

/* A failed fold fails the run, names itself, and no fold starts after it:
 * of 8 folds on 2 threads, the one that failed and at most the one the
 * other thread was training (20 epochs against the failed fold's one). */
START_TEST(no_fold_starts_after_one_failed)
{
    struct fold_setup f;
    fold_setup_open(&f, "data: {dataset: synthetic_linear, w: [1, -2], n_train: 80, batch_size: 8}\n"
                        "model:\n  - linear: {out: 1}\nloss: mse\noptimizer: {sgd: {lr: 0.05}}\n"
                        "train: {epochs: 20}\nkfold: {k: 8}\n");
    cpu_regression_loss = f.cpu->regression_loss;
    f.be.regression_loss = poisoned_regression_loss;
    atomic_store(&poison_taken, false);
    struct err e = {0};
    struct fold_result results[8];
    ck_assert_int_eq(kfold_run(f.s, &f.be, &f.data.train, 2, results, &e), EXIT_RUNTIME);
    ck_assert_msg(!strncmp(e.msg, "fold ", 5) && strstr(e.msg, "/8: the loss is NaN or infinite"), "%s", e.msg);
    int started = 0;
    for (int i = 0; i < 8; i++)
        started += results[i].state != FOLD_NOT_STARTED;
    ck_assert_msg(started <= 1, "%d folds finished after one failed: %s", started, e.msg);
    kfold_results_free(results, 8);
    fold_setup_close(&f);
}
END_TEST

Suite *suite_kfold_threads(void)
{
    Suite *s = suite_create("kfold_threads");
    TCase *tc = tcase_create("kfold_threads");
    tcase_add_test(tc, folds_share_only_a_backend_that_says_so);
    tcase_add_test(tc, no_fold_starts_after_one_failed);
    suite_add_tcase(s, tc);
    return s;
}
