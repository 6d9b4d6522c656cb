/* The command line's edges: an empty --out, "--" before a spec named like
 * an option, a --set named in its error, the way to work offline when the
 * host is unknown, and a leftover part longer than a file:// source. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "tmpdir.h"
#include "url_spec.h"

/* d2ltrain ARGS from the scratch directory. */
static struct proc_result run_in_tmp(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && \"$D2LTRAIN\" %s", tmp_path("."), args);
    return run_shell(cmd);
}

/* `--out ""` wrote the outputs into the current directory. */
START_TEST(empty_out_is_a_usage_error)
{
    tmp_dir_make("edges");
    const char *forms[] = {"--out ''", "--out="};
    for (int i = 0; i < 2; i++) {
        char args[1024];
        snprintf(args, sizeof args, "run '%s/configs/linreg.yaml' %s", repo_root(), forms[i]);
        struct proc_result r = run_in_tmp(args);
        ck_assert_msg(r.status == 2, "%s: exit %d: %s", forms[i], r.status, r.err);
        ck_assert_msg(strstr(r.err, "--out needs a value, got an empty one"), "%s", r.err);
        ck_assert_msg(access(tmp_path("metrics.jsonl"), F_OK) != 0, "wrote into the current directory");
        proc_result_free(&r);
    }
    tmp_dir_remove();
}
END_TEST

START_TEST(double_dash_ends_the_options)
{
    tmp_dir_make("edges");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s/configs/linreg.yaml' '%s'", repo_root(), tmp_path("-lin.yaml"));
    struct proc_result r = run_shell(cmd);
    ck_assert_int_eq(r.status, 0);
    proc_result_free(&r);
    r = run_in_tmp("run --device cpu -- -lin.yaml");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "epoch 3/3 loss"), "%s", r.out);
    proc_result_free(&r);
    r = run_in_tmp("run -- -lin.yaml --quiet"); /* after --, an option-like word is a second spec */
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "one spec file only: got '-lin.yaml' and '--quiet'"), "%s", r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* An error about a value given with --set named the spec file. */
START_TEST(set_error_names_the_set)
{
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml --device cpu --set loss=cross_entropy");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "d2ltrain: error: --set loss=cross_entropy: loss: cross_entropy needs class labels"),
                  "%s", r.err);
    ck_assert_msg(!strstr(r.err, "linreg.yaml"), "%s", r.err);
    proc_result_free(&r);
}
END_TEST

/* .invalid never resolves (RFC 6761). */
START_TEST(unknown_host_says_how_to_work_offline)
{
    tmp_dir_make("edges");
    char args[1024];
    snprintf(args, sizeof args,
             "fetch kaggle_house_train --quiet --mirror http://d2l.invalid/ --mirror-only --data-dir '%s'",
             tmp_path("cache"));
    struct proc_result r = run_d2ltrain(args);
    ck_assert_int_eq(r.status, 3);
    ck_assert_msg(strstr(r.err, "resolve host") && strstr(r.err, "to work offline") &&
                      strstr(r.err, "--mirror file:///") && strstr(r.err, "D2L_DATA_URL") &&
                      strstr(r.err, "d2ltrain list"),
                  "%s", r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* A part left by another download, longer than the file:// source, made
 * every later fetch fail ("failed to resume file:// transfer"). */
START_TEST(longer_leftover_part_is_downloaded_again)
{
    tmp_dir_make("edges");
    const char *spec = tmp_url_spec("Id,x,y\n1,0.1,0.2\n2,0.5,1.0\n3,0.9,1.8\n4,0.3,0.6\n", NULL, "");
    char junk[600], cmd[1024];
    memset(junk, 'j', sizeof junk);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp_path("cache"));
    struct proc_result r = run_shell(cmd);
    proc_result_free(&r);
    tmp_write("cache/finite.csv.part", junk, sizeof junk);
    snprintf(cmd, sizeof cmd, "run %s --device cpu --data-dir '%s'", spec, tmp_path("cache"));
    r = run_d2ltrain(cmd);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(access(tmp_path("cache/finite.csv"), F_OK) == 0, "%s", r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* A cached file of another spec under the same name printed its hash just
 * before the error about this spec's file:// URL. */
START_TEST(file_url_error_names_no_other_files_hash)
{
    tmp_dir_make("edges");
    const char *spec = tmp_url_spec("Id,x,y\n1,0.1,0.2\n2,0.5,1.0\n", NULL, "");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && printf 'another file' > '%s' && rm '%s'", tmp_path("cache"),
             tmp_path("cache/finite.csv"), tmp_path("train.csv"));
    struct proc_result r = run_shell(cmd);
    ck_assert_int_eq(r.status, 0);
    proc_result_free(&r);
    snprintf(cmd, sizeof cmd, "run %s --device cpu --data-dir '%s'", spec, tmp_path("cache"));
    r = run_d2ltrain(cmd);
    ck_assert_msg(r.status == 3, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.err, "train.csv: Couldn't open file"), "%s", r.err);
    /* sha1 of "another file" */
    ck_assert_msg(!strstr(r.err, "ec9f6998e2d94641f8849badee9adb4270ccebf1") && !strstr(r.err, "does not verify (sha1"),
                  "%s", r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

Suite *suite_cli_edges(void)
{
    Suite *s = suite_create("cli_edges");
    TCase *tc = tcase_create("cli_edges");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, empty_out_is_a_usage_error);
    tcase_add_test(tc, double_dash_ends_the_options);
    tcase_add_test(tc, set_error_names_the_set);
    tcase_add_test(tc, unknown_host_says_how_to_work_offline);
    tcase_add_test(tc, longer_leftover_part_is_downloaded_again);
    tcase_add_test(tc, file_url_error_names_no_other_files_hash);
    suite_add_tcase(s, tc);
    return s;
}
