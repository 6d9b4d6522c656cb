/* The one option parser (cmd/args.c); the commands that read their options
 * through it are run by test_cli.c's exit_codes. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../cmd/args.h"

enum { OPT_OUT, OPT_QUIET };

static const struct arg_option options[] = {
    {"--out", NULL, true, OPT_OUT},
    {"--quiet", "-q", false, OPT_QUIET},
    {NULL},
};

/* The results of args_next over argv, one letter each (o: --out, q:
 * --quiet, a: an operand, h: help, e: an error), with the values and the
 * first error's message. */
struct parsed {
    char kinds[16];
    const char *values[16];
    struct err error;
};

static struct parsed parse(char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    struct parsed p;
    memset(&p, 0, sizeof p);
    struct err e = {0};
    struct args a = args_start(options, argc, argv);
    const char *v;
    for (int n = 0, id; n < 15 && (id = args_next(&a, &v, &e)) != ARG_DONE; n++) {
        p.kinds[n] = id == OPT_OUT       ? 'o'
                     : id == OPT_QUIET   ? 'q'
                     : id == ARG_OPERAND ? 'a'
                     : id == ARG_HELP    ? 'h'
                                         : 'e';
        p.values[n] = v;
        if (id == ARG_ERROR) {
            p.error = e;
            ck_assert_int_eq(e.code, EXIT_USAGE);
            break;
        }
    }
    return p;
}

START_TEST(values_attached_or_separate_and_operands_anywhere)
{
    struct parsed p = parse((char *[]){"cmd", "x", "--out=d1", "-q", "--out", "d2", "y", "--quiet", NULL});
    ck_assert_str_eq(p.kinds, "aoqoaq");
    ck_assert_str_eq(p.values[0], "x");
    ck_assert_str_eq(p.values[1], "d1");
    ck_assert_ptr_null(p.values[2]);
    ck_assert_str_eq(p.values[3], "d2");
    ck_assert_str_eq(p.values[4], "y");
    /* A value may look like an option: it is the value. */
    p = parse((char *[]){"cmd", "--out", "--quiet", NULL});
    ck_assert_str_eq(p.kinds, "o");
    ck_assert_str_eq(p.values[0], "--quiet");
}
END_TEST

START_TEST(double_dash_ends_the_options)
{
    struct parsed p = parse((char *[]){"cmd", "-q", "--", "--out", "--help", "--", "-", NULL});
    ck_assert_str_eq(p.kinds, "qaaaa");
    ck_assert_str_eq(p.values[1], "--out");
    ck_assert_str_eq(p.values[2], "--help");
    ck_assert_str_eq(p.values[3], "--");
    ck_assert_str_eq(p.values[4], "-");
    p = parse((char *[]){"cmd", "-", "-h", NULL});
    ck_assert_str_eq(p.kinds, "ah");
}
END_TEST

START_TEST(bad_options_are_named)
{
    static const struct {
        char *argv[4];
        const char *message;
    } cases[] = {
        {{"cmd", "--outdir", "x"}, "unknown option '--outdir' (see --help)"},
        {{"cmd", "-x"}, "unknown option '-x' (see --help)"},
        {{"cmd", "--out"}, "--out needs a value"},
        {{"cmd", "--out", ""}, "--out needs a value, got an empty one"},
        {{"cmd", "--out="}, "--out needs a value, got an empty one"},
        {{"cmd", "--quiet=yes"}, "--quiet takes no value, got 'yes'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct parsed p = parse((char **)cases[i].argv);
        ck_assert_str_eq(p.kinds, "e");
        ck_assert_str_eq(p.error.msg, cases[i].message);
    }
}
END_TEST

START_TEST(whole_numbers_in_range)
{
    struct err e = {0};
    long long n = 0;
    ck_assert_int_eq(args_whole_number("--n", "7", 1, 10, &n, &e), 0);
    ck_assert_int_eq(n, 7);
    const char *bad[] = {"0", "11", "", "3x", " 3", "99999999999999999999", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = (struct err){0};
        ck_assert_int_eq(args_whole_number("--n", bad[i], 1, 10, &n, &e), EXIT_USAGE);
        ck_assert_int_eq(n, 7);
    }
    ck_assert_str_eq(e.msg, "--n '-1': expected a whole number from 1 to 10");
}
END_TEST

Suite *suite_args(void)
{
    Suite *s = suite_create("args");
    TCase *tc = tcase_create("args");
    tcase_add_test(tc, values_attached_or_separate_and_operands_anywhere);
    tcase_add_test(tc, double_dash_ends_the_options);
    tcase_add_test(tc, bad_options_are_named);
    tcase_add_test(tc, whole_numbers_in_range);
    suite_add_tcase(s, tc);
    return s;
}
