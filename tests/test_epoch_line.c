/* The epoch line: fixed decimals as d2l prints them, significant digits for
 * values below 1e-3, and a line the tests' and scripts' parsers still read. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/report.h"

static char *metric_text(double value, int decimals)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    report_metric(f, value, decimals);
    fclose(f);
    return text;
}

START_TEST(small_values_keep_their_digits)
{
    static const struct {
        double value;
        int decimals;
        const char *want;
    } cases[] = {
        {2.9e-6, 6, "2.9e-06"},  {1.23456e-5, 6, "1.235e-05"}, {0.00098765, 4, "0.0009877"},
        {0.5246, 4, "0.5246"},   {0.0012346, 6, "0.001235"},   {0.0012345, 4, "0.0012"},
        {0, 6, "0.000000"},      {-3e-7, 6, "-3e-07"},         {12.5, 6, "12.500000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = metric_text(cases[i].value, cases[i].decimals);
        ck_assert_msg(!strcmp(got, cases[i].want), "%g with %d decimals: '%s', want '%s'", cases[i].value,
                      cases[i].decimals, got, cases[i].want);
        /* what the parsers do: strtod takes the whole field, within 5e-4 relative */
        char *end;
        double back = strtod(got, &end);
        ck_assert(*end == '\0');
        if (cases[i].value != 0 && fabs(cases[i].value) < 1e-3)
            ck_assert_double_eq_tol(back, cases[i].value, 5e-4 * fabs(cases[i].value));
        free(got);
    }
}
END_TEST

START_TEST(regression_line_with_a_tiny_loss)
{
    struct epoch_report r = {.epoch = 3, .epochs = 3, .loss = 2.9e-6, .train_acc = NAN, .test_acc = NAN,
                             .test_loss = 0.25, .train_log_rmse = NAN, .test_log_rmse = NAN, .seconds = 0.0123};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_epoch_line(f, &r, "");
    fclose(f);
    ck_assert_str_eq(text, "epoch 3/3 loss 2.9e-06 test_loss 0.250000 time 0.0123s\n");
    double loss, test_loss;
    ck_assert_int_eq(sscanf(text, "epoch 3/3 loss %lf test_loss %lf", &loss, &test_loss), 2);
    ck_assert(loss == 2.9e-6 && test_loss == 0.25);
    free(text);
}
END_TEST

START_TEST(short_epochs_keep_two_digits_of_time)
{
    static const struct {
        double seconds;
        const char *want;
    } cases[] = {
        {0.0123, "0.0123s"}, {0.0021, "0.0021s"},   {0.00098, "0.00098s"}, {0.00012, "0.00012s"},
        {4.2e-5, "0.000042s"}, {1e-10, "0.000000000s"}, {0, "0.0000s"},  {1.5, "1.5000s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        report_seconds(f, cases[i].seconds);
        fclose(f);
        ck_assert_msg(!strcmp(text, cases[i].want), "%g s: '%s', want '%s'", cases[i].seconds, text, cases[i].want);
        free(text);
    }
}
END_TEST

Suite *suite_epoch_line(void)
{
    Suite *s = suite_create("epoch_line");
    TCase *tc = tcase_create("epoch_line");
    tcase_add_test(tc, small_values_keep_their_digits);
    tcase_add_test(tc, regression_line_with_a_tiny_loss);
    tcase_add_test(tc, short_epochs_keep_two_digits_of_time);
    suite_add_tcase(s, tc);
    return s;
}
