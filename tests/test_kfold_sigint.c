/* Ctrl-C during kfold: no fold starts after it, the training ones stop and
 * are left out, the finished ones are printed, averaged and written as one
 * --out set (none when no fold finished); exit 130. The test hook
 * D2L_TEST_SIGINT_AT_STEP counts the steps of every fold, so with
 * --threads 1 (folds one after another) it stops a chosen fold. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "testutil.h"
#include "tmpdir.h"

/* linreg's 1000 rows in 5 folds: 800 training rows in batches of 10, 80
 * steps an epoch, 3 epochs; 240 steps a fold. */
static const char kfold_args[] = "kfold configs/linreg.yaml --set kfold.k=5 --threads 1 --quiet";

/* `d2ltrain kfold` with the hook at `step` (0: none) and --out DIR. */
static struct proc_result run_kfold(int step, const char *dir)
{
    char cmd[4096];
    const char *bin = getenv("D2LTRAIN");
    snprintf(cmd, sizeof cmd, "%s%.0d '%s' %s --out '%s'", step ? "D2L_TEST_SIGINT_AT_STEP=" : "", step,
             bin && *bin ? bin : "./d2ltrain", kfold_args, dir);
    return run_shell(cmd);
}

/* The line of out that starts with `start`, without its " time ..." end
 * (malloc'd), or NULL. */
static char *line_of(const char *out, const char *start)
{
    for (const char *at = out; at && *at; at = strchr(at, '\n') ? strchr(at, '\n') + 1 : NULL)
        if (!strncmp(at, start, strlen(start))) {
            size_t len = strcspn(at, "\n");
            const char *time = strstr(at, " time ");
            if (time && time < at + len)
                len = (size_t)(time - at);
            return strndup(at, len);
        }
    return NULL;
}

/* Lines of metrics.jsonl text without their "time_s", the first n. */
static char *jsonl_head(const char *text, int n)
{
    char *result = calloc(1, strlen(text) + 1);
    ck_assert_ptr_nonnull(result);
    const char *at = text;
    for (int i = 0; i < n && *at; i++) {
        size_t len = strcspn(at, "\n");
        const char *time = strstr(at, ",\"time_s\"");
        strncat(result, at, time && time < at + len ? (size_t)(time - at) : len);
        strcat(result, "\n");
        at += len + (at[len] == '\n');
    }
    return result;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Stopped in fold 3: folds 1 and 2 are those of the uninterrupted run, the
 * averages theirs, --out their set; stopped in fold 1, nothing finished
 * and --out keeps the set before (a new DIR is not left behind). */
START_TEST(an_interrupted_kfold_keeps_the_finished_folds)
{
    tmp_dir_make("kfold-sigint");
    struct proc_result full = run_kfold(0, tmp_path("full"));
    ck_assert_msg(full.status == 0, "exit %d: %s", full.status, full.err);
    char *full_metrics = test_read_text(tmp_path("full/metrics.jsonl"));

    /* 2 folds and 100 steps: epoch 1 and 20 steps of fold 3 */
    struct proc_result r = run_kfold(2 * 240 + 100, tmp_path("out"));
    ck_assert_msg(r.status == 130, "exit %d: %s", r.status, r.err);
    double train[2], valid[2];
    for (int f = 0; f < 2; f++) {
        char start[16];
        snprintf(start, sizeof start, "fold %d/5 ", f + 1);
        char *want = line_of(full.out, start), *got = line_of(r.out, start);
        ck_assert_msg(want && got, "no %s line in:\n%s", start, r.out);
        ck_assert_str_eq(got, want);
        ck_assert_int_eq(sscanf(got + strlen(start), "train_loss %lf valid_loss %lf", &train[f], &valid[f]), 2);
        free(want);
        free(got);
    }
    ck_assert_msg(strstr(r.out, "fold 3/5 interrupted after epoch 1 (left out)\n"), "%s", r.out);
    ck_assert_msg(!strstr(r.out, "fold 4/5") && !strstr(r.out, "fold 5/5"), "%s", r.out);
    double avg_train, avg_valid;
    const char *avg = strstr(r.out, "5-fold validation (2 of 5 folds finished): ");
    ck_assert_msg(avg != NULL, "%s", r.out);
    ck_assert_int_eq(sscanf(avg, "5-fold validation (2 of 5 folds finished): avg train_loss %lf, avg valid_loss %lf",
                            &avg_train, &avg_valid),
                     2);
    /* the printed means of the printed folds, to their rounding */
    ck_assert_double_eq_tol(avg_train, (train[0] + train[1]) / 2, 2e-6);
    ck_assert_double_eq_tol(avg_valid, (valid[0] + valid[1]) / 2, 2e-6);
    ck_assert_msg(strstr(r.out, "\ninterrupted: 2 of 5 folds finished; averages over those\n"), "%s", r.out);
    char *metrics = test_read_text(tmp_path("out/metrics.jsonl"));
    ck_assert_int_eq(count_lines(metrics), 2 * 3);
    char *want = jsonl_head(full_metrics, 6), *got = jsonl_head(metrics, 6);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(access(tmp_path("out/curves.svg"), R_OK), 0);
    free(want);
    free(got);
    proc_result_free(&r);

    /* stopped in fold 1: no averages, DIR as it was */
    r = run_kfold(100, tmp_path("out"));
    ck_assert_msg(r.status == 130, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "fold 1/5 interrupted after epoch 1 (left out)\n"
                                "interrupted: 0 of 5 folds finished\n"),
                  "%s", r.out);
    ck_assert_msg(!strstr(r.out, "validation"), "%s", r.out);
    char *after = test_read_text(tmp_path("out/metrics.jsonl"));
    ck_assert_str_eq(after, metrics);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c d2ltrain- || true", tmp_path(""));
    struct proc_result left = run_shell(cmd);
    ck_assert_msg(atoi(left.out) == 0, "staging directories left: %s", left.out);
    proc_result_free(&left);
    /* stopped in fold 1 with a new DIR: none is left behind */
    proc_result_free(&r);
    r = run_kfold(100, tmp_path("fresh"));
    ck_assert_msg(r.status == 130, "exit %d: %s", r.status, r.err);
    ck_assert_msg(access(tmp_path("fresh"), F_OK) != 0, "an empty --out was left: %s", r.err);
    free(after);
    free(metrics);
    free(full_metrics);
    proc_result_free(&r);
    proc_result_free(&full);
    tmp_dir_remove();
}
END_TEST

/* A real SIGINT to a long kfold (its folds side by side on 2 threads):
 * it ends within seconds, saying so, exit 130. */
START_TEST(ctrl_c_ends_a_long_kfold)
{
    tmp_dir_make("kfold-ctrl-c");
    const char *bin = getenv("D2LTRAIN");
    char cmd[4096];
    /* the handler is in place before the first thread starts */
    snprintf(cmd, sizeof cmd,
             "'%s' kfold configs/linreg.yaml --set train.epochs=100000 --threads 2 --quiet > '%s' & pid=$!\n"
             "while [ $(ls /proc/$pid/task 2>/dev/null | wc -l) -lt 2 ] && kill -0 $pid 2>/dev/null; do sleep 0.05; "
             "done\n"
             "sleep 0.5; kill -INT $pid; t0=$(date +%%s%%N); wait $pid; rc=$?\n"
             "echo \"$rc $(( ($(date +%%s%%N) - t0) / 1000000 ))\"\n",
             bin && *bin ? bin : "./d2ltrain", tmp_path("stdout"));
    struct proc_result r = run_shell(cmd);
    int rc, ms;
    ck_assert_int_eq(sscanf(r.out, "%d %d", &rc, &ms), 2);
    char *out = test_read_text(tmp_path("stdout"));
    ck_assert_msg(rc == 130, "exit %d: %s", rc, out);
    ck_assert_msg(ms < 10000, "%d ms after SIGINT", ms);
    ck_assert_msg(strstr(out, "interrupted: 0 of 5 folds finished\n"), "%s", out);
    ck_assert_msg(strstr(out, "fold 1/5 interrupted after epoch ") && strstr(out, "fold 2/5 interrupted after epoch "),
                  "%s", out);
    free(out);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

Suite *suite_kfold_sigint(void)
{
    Suite *s = suite_create("kfold_sigint");
    TCase *tc = tcase_create("kfold_sigint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, an_interrupted_kfold_keeps_the_finished_folds);
    tcase_add_test(tc, ctrl_c_ends_a_long_kfold);
    suite_add_tcase(s, tc);
    return s;
}
