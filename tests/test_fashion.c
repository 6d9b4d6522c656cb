/* d2l's Fashion-MNIST programs on the real data (Debian's
 * dataset-fashion-mnist), held to the PyTorch band after 10 epochs:
 * softmax test accuracy >= 0.82, MLP and dropout >= 0.84, and d2l's own bar
 * (train loss < 0.5, train and test accuracy > 0.7). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "skip.h"
#include "tmpdir.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static bool have_fashion_mnist(void)
{
    return access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK) == 0;
}

/* d2ltrain with ARGS (printf-style) and the tests' data cache. */
static struct proc_result run_on_test_data(const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    ck_assert_int_lt(len, (int)sizeof args - 256);
    snprintf(args + len, sizeof args - (size_t)len, " --data-dir '%s/build/test-data'", repo_root());
    return run_d2ltrain(args);
}

struct final_epoch {
    double loss, train_acc, test_acc;
};

static struct final_epoch run_config(const char *config, const char *extra)
{
    struct proc_result r = run_on_test_data("run %s --quiet %s", config, extra);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", config, r.status, r.err);
    const char *last = strstr(r.out, "epoch 10/10 ");
    ck_assert_msg(last != NULL, "%s: no 10th epoch in\n%s", config, r.out);
    struct final_epoch f;
    ck_assert_int_eq(sscanf(last, "epoch 10/10 loss %lf train_acc %lf test_loss %*f test_acc %lf", &f.loss,
                            &f.train_acc, &f.test_acc),
                     3);
    fprintf(stderr, "%s: loss %.4f train_acc %.4f test_acc %.4f\n", config, f.loss, f.train_acc, f.test_acc);
    proc_result_free(&r);
    return f;
}

static void assert_d2l_bar(struct final_epoch f)
{
    ck_assert_double_lt(f.loss, 0.5);
    ck_assert_double_gt(f.train_acc, 0.7);
    ck_assert_double_gt(f.test_acc, 0.7);
}

START_TEST(softmax_regression_reaches_the_band)
{
    struct final_epoch f = run_config("configs/softmax_fashion.yaml", "");
    assert_d2l_bar(f);
    ck_assert_double_ge(f.test_acc, 0.82);
}
END_TEST

START_TEST(mlp_reaches_the_band)
{
    struct final_epoch f = run_config("configs/mlp_fashion.yaml", "");
    assert_d2l_bar(f);
    ck_assert_double_ge(f.test_acc, 0.84);
}
END_TEST

START_TEST(dropout_mlp_reaches_the_band)
{
    struct final_epoch f = run_config("configs/dropout_fashion.yaml", "");
    assert_d2l_bar(f);
    ck_assert_double_ge(f.test_acc, 0.84);
}
END_TEST

START_TEST(same_seed_same_epochs_with_dropout)
{
    const char *args = "run configs/dropout_fashion.yaml --quiet --set train.epochs=2";
    struct proc_result a = run_on_test_data("%s", args), b = run_on_test_data("%s", args);
    ck_assert_int_eq(a.status, 0);
    char *la = epoch_lines_without_time(a.out), *lb = epoch_lines_without_time(b.out);
    ck_assert_ptr_nonnull(strstr(la, "epoch 2/2"));
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    proc_result_free(&a), proc_result_free(&b);
}
END_TEST

/* d2l 5.4: with every weight equal the hidden units never differ. */
START_TEST(constant_init_keeps_hidden_units_identical)
{
    struct proc_result r = run_on_test_data("run configs/experiments/mlp_init_ones.yaml --quiet --set train.epochs=1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "symmetry: all 256 units of layer 1"), "%s", r.out);
    proc_result_free(&r);
    /* and the default random init breaks the symmetry */
    r = run_on_test_data("run configs/mlp_fashion.yaml --quiet --set train.epochs=1");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(strstr(r.out, "symmetry:"));
    proc_result_free(&r);
}
END_TEST

/* d2l 3.7: with large logits softmax + log hits log(0); log-sum-exp does not. */
START_TEST(fused_cross_entropy_is_stable_where_softmax_nll_is_not)
{
    const char *common = "--quiet --set train.epochs=1 --set 'init.weight={normal: {std: 10}}'";
    struct proc_result r = run_on_test_data("run configs/experiments/softmax_scratch.yaml %s", common);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "very first step") && strstr(r.err, "log(0)"), "%s", r.err);
    proc_result_free(&r);
    r = run_on_test_data("run configs/experiments/softmax_fused.yaml %s", common);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 1/1 loss "));
    proc_result_free(&r);
}
END_TEST

/* kfold works for any spec: a classifier reports per-fold and mean accuracy. */
START_TEST(kfold_of_a_classifier_reports_accuracy)
{
    struct proc_result r =
        run_on_test_data("kfold configs/softmax_fashion.yaml --quiet --set kfold.k=2 --set train.epochs=1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    double train, valid;
    const char *avg = strstr(r.out, "2-fold validation:");
    ck_assert_msg(avg != NULL, "%s", r.out);
    ck_assert_int_eq(sscanf(avg, "2-fold validation: avg train_acc %lf, avg valid_acc %lf", &train, &valid), 2);
    ck_assert_double_gt(train, 0.7); /* one epoch of softmax regression on 30 000 images */
    ck_assert_double_gt(valid, 0.7);
    ck_assert_ptr_nonnull(strstr(r.out, "fold 1/2 train_acc "));
    ck_assert_ptr_nonnull(strstr(r.out, "fold 2/2 train_acc "));
    proc_result_free(&r);
}
END_TEST

/* A saved model, loaded by predict, scores what the run's last epoch
 * measured, and its predictions table agrees with that score; and an
 * independent reader (scripts/safetensors_reference.py: numpy, float64,
 * the layout PyTorch's nn.Linear has) gets the same predictions from the
 * checkpoint. */
START_TEST(predict_reproduces_the_runs_test_accuracy)
{
    tmp_dir_make("predict");
    char dir[192], args[1024];
    snprintf(dir, sizeof dir, "%s", tmp_path("out")); /* run --out makes it */
    const char *common = "configs/mlp_fashion.yaml --quiet --set train.epochs=1";
    struct proc_result r = run_on_test_data("run %s --out %s", common, dir);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    const char *run_acc = strstr(r.out, "test_acc ");
    ck_assert_ptr_nonnull(run_acc);
    char want[32];
    ck_assert_int_eq(sscanf(run_acc, "test_acc %31s", want), 1);
    /* run computes the shown predictions for their rows alone, predict takes
     * them from the whole test set's outputs: the same line */
    const char *run_line = strstr(r.out, "predictions (true -> predicted): ankle boot -> ");
    ck_assert_ptr_nonnull(run_line);
    char *want_line = strndup(run_line, strcspn(run_line, "\n"));
    proc_result_free(&r);

    r = run_on_test_data("predict %s --checkpoint %s/model.safetensors --out %s", common, dir, dir);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    char got[32];
    ck_assert_int_eq(sscanf(r.out, "test_acc %31s (10000 examples)", got), 1);
    ck_assert_str_eq(got, want);
    ck_assert_msg(strstr(r.out, want_line), "predict's output lacks run's '%s':\n%s", want_line, r.out);
    free(want_line);
    proc_result_free(&r);

    snprintf(args, sizeof args, "%s/predictions.csv", dir);
    FILE *f = fopen(args, "r");
    ck_assert_ptr_nonnull(f);
    char header[64];
    ck_assert_ptr_nonnull(fgets(header, sizeof header, f));
    ck_assert_str_eq(header, "row,predicted,true\n");
    int row, predicted, truth, rows = 0, correct = 0;
    while (fscanf(f, "%d,%d,%d\n", &row, &predicted, &truth) == 3) {
        ck_assert_int_eq(row, rows++);
        correct += predicted == truth;
    }
    fclose(f);
    ck_assert_int_eq(rows, 10000);
    char from_csv[32];
    snprintf(from_csv, sizeof from_csv, "%.4f", correct / 10000.0);
    ck_assert_str_eq(from_csv, want);

    /* float64 against float32 may flip a near tie, no more */
    snprintf(args, sizeof args,
             "/usr/bin/python3 scripts/safetensors_reference.py %s/model.safetensors " FASHION_DIR
             "/t10k-images-idx3-ubyte.gz " FASHION_DIR "/t10k-labels-idx1-ubyte.gz %s/predictions.csv",
             dir, dir);
    r = run_shell(args);
    ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
    double reference_acc;
    int agree;
    ck_assert_msg(sscanf(r.out, "reference test_acc %lf, agrees with d2ltrain on %d of 10000", &reference_acc,
                         &agree) == 2, "%s", r.out);
    ck_assert_msg(agree >= 9990 && fabs(reference_acc - atof(want)) <= 0.001, "%s", r.out);
    proc_result_free(&r);

    /* a checkpoint of another model is refused, naming every tensor that differs */
    r = run_on_test_data("predict configs/softmax_fashion.yaml --quiet --checkpoint %s/model.safetensors", dir);
    ck_assert_int_eq(r.status, 3);
    ck_assert_msg(strstr(r.err, "does not fit the spec's model (another spec's checkpoint?): extra 3.weight, 3.bias; "
                                "shape of 1.weight [256,784] (the model's [10,784]), 1.bias [256] (the model's [10])"),
                  "%s", r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* `run` of one softmax epoch with --timing on the data cache `dir`, through
 * `wrap` (a shell prefix, "" for none); checks that it trains and that its
 * raw-cache line contains `want`; returns the epoch lines. */
static char *run_timed(const char *wrap, const char *dir, const char *want)
{
    char command[2048];
    snprintf(command, sizeof command,
             "%s\"$D2LTRAIN\" run configs/softmax_fashion.yaml --quiet --timing --set train.epochs=1 --data-dir '%s'",
             wrap, dir);
    struct proc_result r = run_shell(command);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.err, want), "'%s' not in\n%s", want, r.err);
    char *lines = epoch_lines_without_time(r.out);
    ck_assert_ptr_nonnull(strstr(lines, "epoch 1/1"));
    proc_result_free(&r);
    return lines;
}

/* The raw cache beside the .gz files (data/raw_cache.h) end to end: the
 * first run only verifies the fresh copies (stamped once over a second
 * old), the next inflates and writes the raw files (removing a dead
 * writer's stale leftover first), the one after reads
 * them and trains the same; a read-only cache (a read-only bind mount where
 * the test may make one, else a directory in each raw file's place) still
 * trains, inflating. */
START_TEST(raw_cache_is_written_then_read)
{
    tmp_dir_make("rawrun");
    char dir[192];
    snprintf(dir, sizeof dir, "%s", tmp_path("data"));
    free(run_timed("", dir, "0 read from their raw cache"));
    char command[2048];
    snprintf(command, sizeof command, "rm -f '%s'/*.idx '%s'/*.idx.source", dir, dir);
    struct proc_result r = run_shell(command); /* in case a very slow first run stamped already */
    ck_assert_int_eq(r.status, 0);
    proc_result_free(&r);
    sleep(2); /* the .gz files' last change a second behind: the next run stamps them */
    /* what writers killed mid-write left (data/temporary.h): one gone an hour
     * ago, which the next write removes, and one just now, which stays */
    char leave[1024];
    snprintf(leave, sizeof leave,
             "cd '%s' && printf partial > train-images-idx3-ubyte.idx.99999999 && "
             "touch -d '1 hour ago' train-images-idx3-ubyte.idx.99999999 && "
             "printf partial > t10k-images-idx3-ubyte.idx.99999998",
             dir);
    r = run_shell(leave);
    ck_assert_int_eq(r.status, 0);
    proc_result_free(&r);
    char *written = run_timed("", dir, "0 read from their raw cache, 4 inflated and cached");
    snprintf(leave, sizeof leave,
             "cd '%s' && test ! -e train-images-idx3-ubyte.idx.99999999 && test -f t10k-images-idx3-ubyte.idx.99999998",
             dir);
    r = run_shell(leave);
    ck_assert_msg(r.status == 0, "the stale leftover stayed, or the fresh one went");
    proc_result_free(&r);
    char *read = run_timed("", dir, "4 read from their raw cache, 0 inflated and cached");
    ck_assert_str_eq(written, read);
    free(written);

    r = run_shell(command);
    ck_assert_int_eq(r.status, 0);
    proc_result_free(&r);
    char wrap[1024];
    snprintf(wrap, sizeof wrap,
             "unshare -m sh -c 'mount --bind %s %s && mount -o remount,bind,ro %s && exec \"$0\" \"$@\"' ", dir,
             dir, dir);
    snprintf(command, sizeof command, "%strue 2>/dev/null", wrap);
    r = run_shell(command);
    if (r.status != 0) { /* no mount namespace here: make each raw file unwritable instead */
        wrap[0] = '\0';
        snprintf(command, sizeof command, "cd '%s' && for f in *.gz; do mkdir \"${f%%.gz}.idx\"; done", dir);
        struct proc_result m = run_shell(command);
        ck_assert_int_eq(m.status, 0);
        proc_result_free(&m);
    }
    proc_result_free(&r);
    char *unwritable =
        run_timed(wrap, dir, "0 read from their raw cache, 0 inflated and cached, 4 inflated (raw cache not writable)");
    ck_assert_str_eq(unwritable, read);
    free(unwritable), free(read);
    tmp_dir_remove();
}
END_TEST

Suite *suite_fashion(void)
{
    Suite *s = suite_create("fashion");
    const TTest *const tests[] = {softmax_regression_reaches_the_band,
                                  mlp_reaches_the_band,
                                  dropout_mlp_reaches_the_band,
                                  same_seed_same_epochs_with_dropout,
                                  constant_init_keeps_hidden_units_identical,
                                  fused_cross_entropy_is_stable_where_softmax_nll_is_not,
                                  kfold_of_a_classifier_reports_accuracy,
                                  predict_reproduces_the_runs_test_accuracy,
                                  raw_cache_is_written_then_read};
    int n = (int)(sizeof tests / sizeof tests[0]);
    if (!have_fashion_mnist()) {
        tests_skipped("fashion", n, FASHION_DIR " is missing: apt-get install dataset-fashion-mnist");
        return s;
    }
    TCase *tc = tcase_create("real_data"); /* made only to be added: one left out would leak */
    tcase_set_timeout(tc, 1200);
    for (int i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}
