/* What run prints after training (`report:` and its defaults): poly_fit's
 * learned weights near the true coefficients, weight_decay's norm smaller
 * with the penalty than without, and `report:` choosing the lines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

static struct proc_result run_ok(const char *args)
{
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
    return r;
}

/* The number after `label` in out. */
static double value_after(const char *out, const char *label)
{
    const char *at = strstr(out, label);
    ck_assert_msg(at != NULL, "no '%s' in:\n%s", label, out);
    return strtod(at + strlen(label), NULL);
}

START_TEST(poly_fit_prints_its_weights)
{
    struct proc_result r = run_ok("run configs/poly_fit.yaml --device cpu");
    static const double truth[4] = {5, 1.2, -3.4, 5.6};
    const char *line = strstr(r.out, "\nweight:");
    ck_assert_msg(line != NULL, "%s", r.out);
    char *p = (char *)line + strlen("\nweight:");
    for (int i = 0; i < 4; i++) {
        char *end;
        double w = strtod(p, &end);
        ck_assert_msg(end != p, "weight %d missing: %s", i, line);
        ck_assert_msg(w > truth[i] - 0.1 && w < truth[i] + 0.1, "weight %d: %g, truth %g", i, w, truth[i]);
        p = end;
    }
    ck_assert(*p == '\n'); /* 4 features, 4 weights */
    proc_result_free(&r);
}
END_TEST

START_TEST(weight_decay_shrinks_the_norm)
{
    struct proc_result with = run_ok("run configs/weight_decay.yaml --device cpu");
    struct proc_result without = run_ok("run configs/weight_decay.yaml --device cpu --set penalty.l2=0");
    double norm3 = value_after(with.out, "\nL2 norm of w: "), norm0 = value_after(without.out, "\nL2 norm of w: ");
    ck_assert_msg(norm3 < norm0, "L2 norm at lambda 3: %g, at 0: %g", norm3, norm0);
    proc_result_free(&with);
    proc_result_free(&without);
    /* the L1 penalty reports the L1 norm */
    struct proc_result l1 = run_ok("run configs/weight_decay.yaml --device cpu --set 'penalty={l1: 0.5}'");
    ck_assert_double_gt(value_after(l1.out, "\nL1 norm of w: "), 0);
    ck_assert_ptr_null(strstr(l1.out, "L2 norm"));
    proc_result_free(&l1);
}
END_TEST

START_TEST(report_key_chooses_the_lines)
{
    struct proc_result r = run_ok("run configs/linreg.yaml --device cpu --set 'report=[l2_norm, weights]'");
    ck_assert_ptr_null(strstr(r.out, "error in estimating"));
    double w0 = value_after(r.out, "\nweight: "), norm = value_after(r.out, "\nL2 norm of w: ");
    ck_assert_double_eq_tol(w0, 2, 0.01);          /* linreg's w = [2, -3.4] */
    ck_assert_double_eq_tol(norm, 3.9446, 0.01); /* ||[2, -3.4]|| */
    proc_result_free(&r);
    r = run_ok("run configs/linreg.yaml --device cpu --set 'report=[]'");
    ck_assert_msg(!strstr(r.out, "\nw ") && !strstr(r.out, "weight:") && !strstr(r.out, "norm"), "%s", r.out);
    proc_result_free(&r);
    /* and by default linreg keeps its w and b lines */
    r = run_ok("run configs/linreg.yaml --device cpu");
    ck_assert_ptr_nonnull(strstr(r.out, "\nerror in estimating w:"));
    ck_assert_ptr_nonnull(strstr(r.out, "\nerror in estimating b:"));
    proc_result_free(&r);
}
END_TEST

Suite *suite_report_items(void)
{
    Suite *s = suite_create("report_items");
    TCase *tc = tcase_create("report_items");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, poly_fit_prints_its_weights);
    tcase_add_test(tc, weight_decay_shrinks_the_norm);
    tcase_add_test(tc, report_key_chooses_the_lines);
    suite_add_tcase(s, tc);
    return s;
}
