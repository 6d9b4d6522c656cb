/* d2l 4.10 on the real Kaggle house files: k-fold splits, the 5-fold
 * log-RMSE band of PyTorch 2.11 and the submission file. */
#include <check.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/kfold.h"
#include "../data/tabular.h"
#include "proc.h"
#include "skip.h"
#include "tmpdir.h"

/* k-fold split on n rows whose single feature is the row number. */
static void check_split(size_t n, int k, const int32_t *order)
{
    struct dataset all = {.n = n, .d = 1, .x_type = X_F32, .x_scale = 1, .y_width = 1};
    all.x = malloc(n * sizeof(float));
    all.y = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        ((float *)all.x)[i] = all.y[i] = (float)i;
    size_t fold_size = n / (size_t)k;
    int *valid_count = calloc(n, sizeof *valid_count);
    for (int fold = 0; fold < k; fold++) {
        struct dataset train, valid;
        struct err e = {0};
        ck_assert_int_eq(kfold_split(&all, k, fold, order, &train, &valid, &e), 0);
        ck_assert_uint_eq(valid.n, fold_size);
        ck_assert_uint_eq(train.n, fold_size * (size_t)(k - 1));
        int *in_train = calloc(n, sizeof *in_train);
        for (size_t i = 0; i < train.n; i++) {
            size_t row = (size_t)((float *)train.x)[i];
            ck_assert_float_eq(train.y[i], (float)row); /* x and y stay together */
            in_train[row]++;
        }
        for (size_t i = 0; i < valid.n; i++) {
            size_t row = (size_t)((float *)valid.x)[i];
            ck_assert_int_eq(in_train[row], 0); /* no overlap */
            valid_count[row]++;
            /* contiguous folds as d2l's get_k_fold_data */
            size_t expect = order ? (size_t)order[(size_t)fold * fold_size + i] : (size_t)fold * fold_size + i;
            ck_assert_uint_eq(row, expect);
        }
        free(in_train);
        dataset_free(&train);
        dataset_free(&valid);
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_le(valid_count[i], 1);
        used += (size_t)valid_count[i];
    }
    ck_assert_uint_eq(used, fold_size * (size_t)k); /* the n % k remainder is left out */
    free(valid_count);
    free(all.x);
    free(all.y);
}

START_TEST(kfold_splits_are_disjoint_and_cover_the_rows)
{
    check_split(1460, 5, NULL);
    check_split(23, 4, NULL); /* 3 rows of remainder */
    int32_t order[23];
    shuffle_indices(order, 23, 42, 0);
    check_split(23, 4, order);
    check_split(2, 2, NULL);
}
END_TEST

START_TEST(too_many_folds_is_an_error)
{
    struct dataset all = {.n = 3, .d = 1, .x_type = X_F32, .y_width = 1};
    struct dataset train, valid;
    struct err e = {0};
    ck_assert_int_eq(kfold_split(&all, 4, 0, NULL, &train, &valid, &e), EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "kfold.k"));
}
END_TEST

/* The real Kaggle house CSVs, or NULL where they are not (malloc'd). */
static char *kaggle_dir(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/../shared/data/kaggle_house", repo_root());
    return realpath(dir, NULL);
}

static void kaggle_mirror(char *args, size_t len)
{
    char *real = kaggle_dir();
    ck_assert_ptr_nonnull(real); /* the tests that need it are added only when it is there */
    snprintf(args, len, "--quiet --data-dir '%s/build/test-data' --mirror 'file://%s/'", repo_root(), real);
    free(real);
}

START_TEST(five_fold_log_rmse_in_the_pytorch_band)
{
    char common[2048], args[4096];
    kaggle_mirror(common, sizeof common);
    snprintf(args, sizeof args, "kfold configs/kaggle_house.yaml %s", common);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    fputs(r.out, stderr);
    double train, valid;
    const char *avg = strstr(r.out, "5-fold validation:");
    ck_assert_ptr_nonnull(avg);
    ck_assert_int_eq(sscanf(avg, "5-fold validation: avg train_log_rmse %lf, avg valid_log_rmse %lf", &train, &valid),
                     2);
    /* PyTorch 2.11, same files and settings: train 0.166, valid 0.171 */
    ck_assert_msg(fabs(train - 0.166) <= 0.01, "avg train log rmse %.4f", train);
    ck_assert_msg(fabs(valid - 0.171) <= 0.01, "avg valid log rmse %.4f", valid);
    for (int f = 1; f <= 5; f++) {
        char label[32];
        snprintf(label, sizeof label, "fold %d/5 ", f);
        ck_assert_ptr_nonnull(strstr(r.out, label));
    }
    proc_result_free(&r);
}
END_TEST

/* d2l's train_and_pred, then the same model again through predict. */
START_TEST(train_and_pred_writes_the_submission)
{
    char common[2048], args[4096], dir[192];
    kaggle_mirror(common, sizeof common);
    tmp_dir_make("kaggle");
    snprintf(dir, sizeof dir, "%s", tmp_path("out")); /* run --out makes it */
    snprintf(args, sizeof args, "run configs/kaggle_house.yaml %s --out %s", common, dir);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    double train_rmse;
    const char *last = strstr(r.out, "epoch 100/100 ");
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(sscanf(last, "epoch 100/100 loss %*f train_log_rmse %lf", &train_rmse), 1);
    ck_assert_msg(fabs(train_rmse - 0.162) <= 0.01, "train log rmse %.4f (PyTorch: 0.162)", train_rmse);
    proc_result_free(&r);

    char path[512];
    snprintf(path, sizeof path, "%s/submission.csv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "Id,SalePrice\n");
    int rows = 0, id;
    double price;
    while (fscanf(f, "%d,%lf\n", &id, &price) == 2) {
        ck_assert_int_eq(id, 1461 + rows); /* the test file's Id column */
        ck_assert_msg(price > 0 && isfinite(price), "row %d price %g", rows, price);
        rows++;
    }
    ck_assert(feof(f));
    fclose(f);
    ck_assert_int_eq(rows, 1459);

    /* predict with the saved model writes the same submission, byte for byte */
    snprintf(args, sizeof args,
             "predict configs/kaggle_house.yaml %s --checkpoint %s/model.safetensors --out %s/again", common, dir,
             dir);
    r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "1459 predictions (the test set has no labels)"));
    proc_result_free(&r);
    snprintf(args, sizeof args, "cmp %s/submission.csv %s/again/submission.csv", dir, dir);
    r = run_shell(args);
    ck_assert_msg(r.status == 0, "predict's submission differs from run's: %s", r.out);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* pandas 2 reads the string "None" as missing: 330 features; pandas < 2.0,
 * which the book ran, keeps it as a category of MasVnrType: 331. */
START_TEST(missing_strings_pandas1_gives_the_books_331)
{
    char *dir = kaggle_dir(), train[1100], test[1100];
    snprintf(train, sizeof train, "%s/kaggle_house_pred_train.csv", dir);
    snprintf(test, sizeof test, "%s/kaggle_house_pred_test.csv", dir);
    free(dir);
    struct preprocess_spec p = {.id_column = "Id", .label_column = "SalePrice", .standardize = true, .dummy_na = true};
    const size_t want[2] = {330, 331};
    for (int pandas1 = 0; pandas1 < 2; pandas1++) {
        struct data_split split = {0};
        struct tabular_info info = {0};
        struct err e = {0};
        p.none_is_value = pandas1;
        ck_assert_msg(tabular_load_info(train, test, &p, &split, &info, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(split.train.d, want[pandas1]);
        ck_assert_uint_eq(split.test.d, want[pandas1]);
        bool has_none = false;
        for (int i = 0; i < info.n_features; i++)
            has_none |= !strcmp(info.names[i], "MasVnrType_None");
        ck_assert_int_eq(has_none, pandas1);
        tabular_info_free(&info);
        dataset_free(&split.train);
        dataset_free(&split.test);
    }
}
END_TEST

Suite *suite_kaggle(void)
{
    Suite *s = suite_create("kaggle");
    TCase *tc = tcase_create("kfold");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, kfold_splits_are_disjoint_and_cover_the_rows);
    tcase_add_test(tc, too_many_folds_is_an_error);
    char *data = kaggle_dir();
    if (data) {
        tcase_add_test(tc, five_fold_log_rmse_in_the_pytorch_band);
        tcase_add_test(tc, train_and_pred_writes_the_submission);
        tcase_add_test(tc, missing_strings_pandas1_gives_the_books_331);
    } else {
        tests_skipped("kaggle", 3, "../shared/data/kaggle_house is missing: the real Kaggle house CSVs");
    }
    free(data);
    suite_add_tcase(s, tc);
    return s;
}
