/* No result is an inf or a NaN with exit 0: a metric the data cannot give
 * is refused before training (kfold.metric, log RMSE of labels that are
 * not positive), a metric that overflows stops the run, and the printing
 * functions report what they printed. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/report.h"
#include "proc.h"
#include "tmpdir.h"
#include "url_spec.h"

static void assert_no_nonfinite(const char *out)
{
    ck_assert_msg(!strstr(out, "nan") && !strstr(out, "inf"), "a nan or inf was printed:\n%s", out);
}

static struct proc_result run_on(const char *command, const char *spec, const char *options)
{
    char args[1024];
    snprintf(args, sizeof args, "%s %s --data-dir %s %s", command, spec, tmp_path("cache"), options);
    return run_d2ltrain(args);
}

/* linreg's labels are negative too: kfold's default metric for data that
 * is not tabular is the loss, and log_rmse is refused naming the --set. */
START_TEST(kfold_linreg_reports_finite_folds)
{
    struct proc_result r = run_d2ltrain("kfold configs/linreg.yaml --set kfold.k=2");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    assert_no_nonfinite(r.out);
    ck_assert_msg(strstr(r.out, "fold 1/2 train_loss "), "%s", r.out);
    proc_result_free(&r);

    r = run_d2ltrain("kfold configs/linreg.yaml --set kfold.metric=log_rmse");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--set kfold.metric=log_rmse: kfold.metric: log_rmse takes the log of every label"),
                  "%s", r.err);
    ck_assert_msg(!strstr(r.out, "fold"), "trained before refusing:\n%s", r.out);
    proc_result_free(&r);

    r = run_d2ltrain("kfold configs/linreg.yaml --set kfold.metric=accuracy");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "kfold.metric: accuracy needs class labels"), "%s", r.err);
    proc_result_free(&r);
}
END_TEST

/* A label of 0 gave inf and -5 dropped the metric: kfold refuses naming
 * the file and line; run leaves the log RMSE out and says why. */
START_TEST(log_rmse_of_nonpositive_labels_is_refused)
{
    tmp_dir_make("finite");
    const char *labels[] = {"0", "-5"};
    for (int i = 0; i < 2; i++) {
        char csv[256];
        snprintf(csv, sizeof csv, "Id,x,y\n1,0.1,0.2\n2,0.5,1.0\n3,0.9,%s\n4,0.3,0.6\n", labels[i]);
        const char *spec = tmp_url_spec(csv, NULL, "");
        struct proc_result r = run_on("kfold", spec, "");
        ck_assert_msg(r.status == 3, "exit %d: %s%s", r.status, r.out, r.err);
        char want[256];
        snprintf(want, sizeof want, "finite.csv:4: label %s is not positive, and kfold.metric log_rmse", labels[i]);
        ck_assert_msg(strstr(r.err, want), "'%s' lacks '%s'", r.err, want);
        proc_result_free(&r);

        r = run_on("run", spec, "");
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        assert_no_nonfinite(r.out);
        ck_assert_msg(!strstr(r.out, "log_rmse"), "%s", r.out);
        snprintf(want, sizeof want, "finite.csv:4: label %s is not positive, so train_log_rmse", labels[i]);
        ck_assert_msg(strstr(r.err, want), "'%s' lacks '%s'", r.err, want);
        proc_result_free(&r);
    }
    tmp_dir_remove();
}
END_TEST

/* A test row whose output overflows float32 gave "test_loss inf" and
 * exit 0. */
START_TEST(overflowing_metric_stops_the_run)
{
    tmp_dir_make("finite");
    const char *spec = tmp_url_spec("Id,x,y\n1,0.1,0.2\n2,0.5,1.0\n3,0.9,1.8\n4,0.3,0.6\n",
                                "Id,x,y\n5,3e38,1\n6,0.2,0.4\n", "");
    struct proc_result r = run_on("run", spec, "");
    ck_assert_msg(r.status == 1, "exit %d: %s%s", r.status, r.out, r.err);
    ck_assert_msg(strstr(r.err, "epoch 1: test_loss is not finite"), "%s", r.err);
    assert_no_nonfinite(r.out);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* The printers say when they printed a value that is not finite. */
START_TEST(printers_report_nonfinite_values)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct epoch_report r = {.epoch = 1, .epochs = 1, .loss = 0.5, .train_acc = NAN, .test_acc = NAN,
                             .test_loss = 0.25, .train_log_rmse = NAN, .test_log_rmse = NAN};
    ck_assert_int_eq(report_epoch_line(f, &r, ""), 0);
    r.test_loss = INFINITY;
    ck_assert_int_eq(report_epoch_line(f, &r, ""), -1);
    ck_assert_int_eq(report_fold_line(f, 1, 2, "loss", 0.5, 0.25, 0.1), 0);
    ck_assert_int_eq(report_fold_line(f, 1, 2, "loss", NAN, 0.25, 0.1), -1);
    ck_assert_int_eq(report_fold_line(f, 1, 2, "loss", 0.5, -INFINITY, 0.1), -1);
    ck_assert_int_eq(report_folds_average(f, 2, 2, "loss", 1, 0.5), 0);
    ck_assert_int_eq(report_folds_average(f, 1, 2, "loss", NAN, 0.5), -1);
    fclose(f);
    free(text);
}
END_TEST

Suite *suite_finite(void)
{
    Suite *s = suite_create("finite");
    TCase *tc = tcase_create("finite");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kfold_linreg_reports_finite_folds);
    tcase_add_test(tc, log_rmse_of_nonpositive_labels_is_refused);
    tcase_add_test(tc, overflowing_metric_stops_the_run);
    tcase_add_test(tc, printers_report_nonfinite_values);
    suite_add_tcase(s, tc);
    return s;
}
