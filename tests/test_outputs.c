/* What the tool writes and reads, against a hostile or careless file
 * system: planted symbolic links and FIFOs, kills at every commit point of
 * an output set, a disk that fills, two writers of one --out. */
#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/outfile.h"
#include "proc.h"
#include "tmpdir.h"

/* A small regression whose model.safetensors (~32 KB) is by far the largest
 * output: a disk that fills fails on it, after the other files. */
static const char spec_text[] = "name: outputs\n"
                                "seed: 42\n"
                                "data: {dataset: synthetic_linear, w: [2, -3.4], b: 4.2, n_train: 100, n_test: 20,\n"
                                "       noise: 0.01, batch_size: 10}\n"
                                "model:\n"
                                "  - linear: {out: 2048}\n"
                                "  - relu\n"
                                "  - linear: {out: 1}\n"
                                "loss: squared\n"
                                "optimizer: {sgd: {lr: 0.001}}\n"
                                "train: {epochs: 2}\n";

/* The old set (2 epochs) and the new one (3 epochs, another seed). */
#define OLD_ARGS "--set name=old"
#define NEW_ARGS "--set name=new --set seed=7 --set train.epochs=3"

static const char *const set_names[] = {"config.yaml", "curves.svg", "metrics.jsonl", "model.safetensors"};
enum { N_SET = 4 };

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *copy = malloc(*len + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, *len);
    copy[*len] = '\0';
    return copy;
}

static bool same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    bool same = x && y && la == lb && !memcmp(x, y, la);
    free(x), free(y);
    return same;
}

static void run_ok(const char *fmt, const char *a, const char *b)
{
    char args[1024];
    snprintf(args, sizeof args, fmt, a, b);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
    proc_result_free(&r);
}

/* Not an output: a directory of the user's, which every commit keeps. */
static int not_kept(const struct dirent *ent)
{
    return strcmp(ent->d_name, "keep") != 0;
}

/* The entries of dir but "keep", sorted, as one space-separated line. */
static void listing(const char *dir, char *out, size_t len)
{
    struct dirent **names;
    int n = scandir(dir, &names, not_kept, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
            snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "", names[i]->d_name);
        free(names[i]);
    }
    if (n >= 0)
        free(names);
}

/* 'o' when dir holds exactly the old set, 'n' the new one, '?' otherwise. */
static char which_set(const char *dir_path)
{
    char want[256] = "", got[1024], dir[256];
    snprintf(dir, sizeof dir, "%s", dir_path); /* tmp_path's buffers rotate */
    for (int i = 0; i < N_SET; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? " " : "", set_names[i]);
    listing(dir, got, sizeof got);
    if (strcmp(got, want))
        return '?';
    int old = 0, new = 0;
    for (int i = 0; i < N_SET; i++) {
        if (!strcmp(set_names[i], "metrics.jsonl"))
            continue; /* its times differ from run to run: counted by lines below */
        char path[512], ref[512];
        snprintf(path, sizeof path, "%s/%s", dir, set_names[i]);
        snprintf(ref, sizeof ref, "%s/%s", tmp_path("ref-old"), set_names[i]);
        old += same_file(path, ref);
        snprintf(ref, sizeof ref, "%s/%s", tmp_path("ref-new"), set_names[i]);
        new += same_file(path, ref);
    }
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *metrics = slurp(path, &len);
    int lines = 0;
    for (size_t i = 0; metrics && i < len; i++)
        lines += metrics[i] == '\n';
    free(metrics);
    if (old == N_SET - 1 && lines == 2)
        return 'o';
    if (new == N_SET - 1 && lines == 3)
        return 'n';
    return '?';
}

/* dir holds the old set and a subdirectory keep/ with a file. */
static void reset_to_old(const char *dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s' && mkdir '%s/keep' && echo kept > '%s/keep/file'", dir,
             tmp_path("ref-old"), dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void assert_kept(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/keep/file", dir);
    ck_assert_msg(access(path, F_OK) == 0, "%s is gone", path);
}

/* The tmp directory holds the spec, the references and `dir`: no staging
 * directory or other leftover beside them. */
static void assert_no_leftovers(void)
{
    char got[1024];
    listing(tmp_path(""), got, sizeof got);
    ck_assert_msg(!strcmp(got, "out ref-new ref-old spec.yaml"), "leftovers: %s", got);
}

static void make_references(void)
{
    tmp_dir_make("outputs");
    tmp_write("spec.yaml", spec_text, strlen(spec_text));
    run_ok("run %s " OLD_ARGS " --out %s", tmp_path("spec.yaml"), tmp_path("ref-old"));
    run_ok("run %s " NEW_ARGS " --out %s", tmp_path("spec.yaml"), tmp_path("ref-new"));
    ck_assert_int_eq(which_set(tmp_path("ref-old")), 'o');
    ck_assert_int_eq(which_set(tmp_path("ref-new")), 'n');
}

/* Killed (SIGKILL, through the test hook D2L_TEST_KILL_AT) at each commit
 * point in turn, `run --out` leaves the whole old set or the whole new one,
 * which predict then uses; the next run clears what the killed one left. */
START_TEST(killed_at_every_commit_point_leaves_one_whole_set)
{
    make_references();
    char dir[256], spec[256], args[1024];
    snprintf(dir, sizeof dir, "%s", tmp_path("out"));
    snprintf(spec, sizeof spec, "%s", tmp_path("spec.yaml"));
    int points = 0, saw_old = 0, saw_new = 0;
    for (int n = 1; n < 40; n++) {
        reset_to_old(dir);
        snprintf(args, sizeof args, "D2L_TEST_KILL_AT=%d '%s' run %s " NEW_ARGS " --out %s", n,
                 getenv("D2LTRAIN") ? getenv("D2LTRAIN") : "./d2ltrain", spec, dir);
        struct proc_result r = run_shell(args);
        char set = which_set(dir);
        if (r.status == 0) {
            ck_assert_int_eq(set, 'n');
            assert_kept(dir);
            proc_result_free(&r);
            break;
        }
        ck_assert_msg(r.status == 128 + 9, "point %d: exit %d: %s", n, r.status, r.err);
        proc_result_free(&r);
        points++;
        ck_assert_msg(set == 'o' || set == 'n', "killed at commit point %d: a mixed set", n);
        saw_old += set == 'o';
        saw_new += set == 'n';
        snprintf(args, sizeof args, "predict %s/config.yaml --checkpoint %s/model.safetensors", dir, dir);
        r = run_d2ltrain(args);
        ck_assert_msg(r.status == 0, "predict after a kill at point %d: %s", n, r.err);
        proc_result_free(&r);
        run_ok("run %s " OLD_ARGS " --out %s", spec, dir); /* clears the killed run's staging */
        ck_assert_int_eq(which_set(dir), 'o');
        assert_kept(dir);
        assert_no_leftovers();
    }
    ck_assert_int_ge(points, 3);
    ck_assert_int_gt(saw_old, 0);
    ck_assert_int_gt(saw_new, 0);
    tmp_dir_remove();
}
END_TEST

/* Out of space on the last and largest file (RLIMIT_FSIZE, SIGXFSZ
 * ignored: the write fails with EFBIG): exit 1, the old set untouched. */
START_TEST(disk_full_keeps_the_old_set)
{
    make_references();
    char dir[256], args[1024];
    snprintf(dir, sizeof dir, "%s", tmp_path("out"));
    reset_to_old(dir);
    snprintf(args, sizeof args, "trap '' XFSZ; ulimit -f 24; exec '%s' run %s " NEW_ARGS " --out %s",
             getenv("D2LTRAIN") ? getenv("D2LTRAIN") : "./d2ltrain", tmp_path("spec.yaml"), dir);
    struct proc_result r = run_shell(args);
    ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.err, "model.safetensors"), "%s", r.err);
    proc_result_free(&r);
    ck_assert_int_eq(which_set(dir), 'o');
    assert_kept(dir);
    assert_no_leftovers();
    tmp_dir_remove();
}
END_TEST

/* A second writer of one --out is refused (exit 1) and changes nothing. */
START_TEST(second_writer_is_refused)
{
    make_references();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp_path("out"));
    reset_to_old(dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0); /* as a running d2ltrain holds it */
    char args[1024];
    snprintf(args, sizeof args, "run %s " NEW_ARGS " --out %s", tmp_path("spec.yaml"), dir);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 1 && strstr(r.err, "another"), "exit %d: %s", r.status, r.err);
    proc_result_free(&r);
    close(fd);
    ck_assert_int_eq(which_set(dir), 'o');

    /* predict --out into the run's directory keeps the run's files; the next
     * run drops predictions that belong to the model it replaces */
    snprintf(args, sizeof args, "predict %s/config.yaml --checkpoint %s/model.safetensors --out %s", dir, dir, dir);
    r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    proc_result_free(&r);
    char got[1024];
    listing(dir, got, sizeof got);
    ck_assert_str_eq(got, "config.yaml curves.svg metrics.jsonl model.safetensors predictions.csv");
    run_ok("run %s " NEW_ARGS " --out %s", tmp_path("spec.yaml"), dir);
    ck_assert_int_eq(which_set(dir), 'n');
    assert_kept(dir);
    tmp_dir_remove();
}
END_TEST

/* Links planted at the names of output temporaries are never written
 * through, and each output is a regular file. */
START_TEST(planted_tmp_links_are_not_followed)
{
    tmp_dir_make("links");
    const char *victim = tmp_write("victim", "precious\n", 9);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp_path("out"));
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    for (int i = 0; i < N_SET; i++) {
        char link_path[512];
        snprintf(link_path, sizeof link_path, "%s/%s.tmp", dir, set_names[i]);
        ck_assert_int_eq(symlink(victim, link_path), 0);
    }
    run_ok("run %s --out %s", "configs/linreg.yaml", dir);
    size_t len;
    char *kept = slurp(victim, &len);
    ck_assert_ptr_nonnull(kept);
    ck_assert_str_eq(kept, "precious\n");
    free(kept);
    for (int i = 0; i < N_SET; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, set_names[i]);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_msg(S_ISREG(st.st_mode), "%s is not a regular file", path);
    }
    tmp_dir_remove();
}
END_TEST

/* The replaced directory keeps its permissions; the current directory (which
 * the commit would remove from under the shell) is refused as --out. */
START_TEST(out_dir_keeps_its_mode_and_is_not_the_cwd)
{
    tmp_dir_make("mode");
    char dir[256], args[1024];
    snprintf(dir, sizeof dir, "%s", tmp_path("out"));
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(chmod(dir, 0751), 0);
    run_ok("run %s --out %s", "configs/linreg.yaml", dir);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0751);

    snprintf(args, sizeof args, "cd %s && '%s' run '%s/configs/linreg.yaml' --out .", dir,
             getenv("D2LTRAIN") ? getenv("D2LTRAIN") : "./d2ltrain", repo_root());
    struct proc_result r = run_shell(args);
    ck_assert_msg(r.status == 2 && strstr(r.err, "current directory"), "exit %d: %s", r.status, r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* A FIFO given as the checkpoint or the spec is refused at once: the open
 * does not wait for a writer. */
START_TEST(fifo_inputs_are_refused)
{
    tmp_dir_make("fifo");
    const char *fifo = tmp_path("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    char args[1024];
    const char *bin = getenv("D2LTRAIN") ? getenv("D2LTRAIN") : "./d2ltrain";
    snprintf(args, sizeof args, "timeout 20 '%s' predict configs/linreg.yaml --set data.n_test=10 --checkpoint %s",
             bin, fifo);
    struct proc_result r = run_shell(args);
    ck_assert_msg(r.status == 3 && strstr(r.err, "not a regular file"), "exit %d: %s", r.status, r.err);
    proc_result_free(&r);
    snprintf(args, sizeof args, "timeout 20 '%s' run %s", bin, fifo);
    r = run_shell(args);
    ck_assert_msg(r.status == 2 && strstr(r.err, "not a regular file"), "exit %d: %s", r.status, r.err);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* One file of `set` holding `text`. */
static void put(const struct outset *set, const char *name, const char *text)
{
    struct outfile o;
    struct err e = {0};
    ck_assert_msg(outfile_open(&o, set, name, &e) == 0, "%s", e.msg);
    fputs(text, o.f);
    ck_assert_msg(outfile_close(&o, &e) == 0, "%s", e.msg);
}

/* outset_checkpoint (train.checkpoint_every): DIR holds the set at once,
 * stays locked against a second writer until the final commit, and the
 * next set replaces the checkpoint's whole, leaving nothing beside DIR. */
START_TEST(a_checkpoint_commits_and_keeps_the_lock)
{
    tmp_dir_make("checkpoint");
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s", tmp_path("out"));
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    struct outset set, other;
    struct err e = {0}, refused = {0};
    ck_assert_msg(outset_begin(&set, dir, outset_all_names, &e) == 0, "%s", e.msg);
    put(&set, "metrics.jsonl", "epoch 1\n");
    put(&set, "model.safetensors", "model 1\n");
    ck_assert_msg(outset_checkpoint(&set, &e) == 0, "%s", e.msg);
    size_t len;
    char *text = slurp(path, &len);
    ck_assert_str_eq(text ? text : "(none)", "epoch 1\n");
    free(text);
    ck_assert_int_eq(outset_begin(&other, dir, outset_all_names, &refused), EXIT_RUNTIME);
    ck_assert_msg(strstr(refused.msg, "another d2ltrain is writing") != NULL, "%s", refused.msg);
    put(&set, "metrics.jsonl", "epochs 1-2\n"); /* no model.safetensors in this set */
    ck_assert_msg(outset_commit(&set, &e) == 0, "%s", e.msg);
    text = slurp(path, &len);
    ck_assert_str_eq(text ? text : "(none)", "epochs 1-2\n");
    free(text);
    char got[1024];
    listing(dir, got, sizeof got);
    ck_assert_str_eq(got, "metrics.jsonl");
    listing(tmp_path(""), got, sizeof got);
    ck_assert_str_eq(got, "out");
    ck_assert_msg(outset_begin(&other, dir, outset_all_names, &e) == 0, "released: %s", e.msg);
    outset_abort(&other);
    tmp_dir_remove();
}
END_TEST

/* An aborted set leaves DIR as it found it: one that begin created (its
 * parents stay) is removed; one that was there, or that a commit or a
 * checkpoint filled, stays. */
START_TEST(an_aborted_set_removes_the_dir_it_created)
{
    tmp_dir_make("abort");
    char fresh[256], existing[256], filled[256];
    snprintf(fresh, sizeof fresh, "%s", tmp_path("parent/out"));
    snprintf(existing, sizeof existing, "%s", tmp_path("there"));
    snprintf(filled, sizeof filled, "%s", tmp_path("filled"));
    ck_assert_int_eq(mkdir(existing, 0755), 0);
    struct outset set;
    struct err e = {0};
    ck_assert_msg(outset_begin(&set, fresh, outset_all_names, &e) == 0, "%s", e.msg);
    put(&set, "metrics.jsonl", "epoch 1\n");
    outset_abort(&set);
    ck_assert_msg(access(fresh, F_OK) != 0, "%s is still there", fresh);
    ck_assert_int_eq(access(tmp_path("parent"), F_OK), 0);
    ck_assert_msg(outset_begin(&set, existing, outset_all_names, &e) == 0, "%s", e.msg);
    outset_abort(&set);
    ck_assert_int_eq(access(existing, F_OK), 0);
    ck_assert_msg(outset_begin(&set, filled, outset_all_names, &e) == 0, "%s", e.msg);
    put(&set, "metrics.jsonl", "epoch 1\n");
    ck_assert_msg(outset_checkpoint(&set, &e) == 0, "%s", e.msg);
    outset_abort(&set);
    char got[1024];
    listing(filled, got, sizeof got);
    ck_assert_str_eq(got, "metrics.jsonl");
    listing(tmp_path(""), got, sizeof got);
    ck_assert_str_eq(got, "filled parent there");
    tmp_dir_remove();
}
END_TEST

Suite *suite_outputs(void)
{
    Suite *s = suite_create("outputs");
    TCase *tc = tcase_create("outputs");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, planted_tmp_links_are_not_followed);
    tcase_add_test(tc, fifo_inputs_are_refused);
    tcase_add_test(tc, out_dir_keeps_its_mode_and_is_not_the_cwd);
    tcase_add_test(tc, killed_at_every_commit_point_leaves_one_whole_set);
    tcase_add_test(tc, disk_full_keeps_the_old_set);
    tcase_add_test(tc, second_writer_is_refused);
    tcase_add_test(tc, a_checkpoint_commits_and_keeps_the_lock);
    tcase_add_test(tc, an_aborted_set_removes_the_dir_it_created);
    suite_add_tcase(s, tc);
    return s;
}
