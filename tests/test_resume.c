/* run --resume, Ctrl-C and train.checkpoint_every: a run stopped anywhere
 * (between two steps by SIGINT, or killed after a checkpoint) and resumed
 * prints the uninterrupted run's epoch lines, bit for bit, and leaves its
 * model, metrics.jsonl (but for the times) and curves.svg.
 *
 * Test hooks: D2L_TEST_SIGINT_AT_STEP=N raises SIGINT after the N-th
 * training step of the process (core/train.c), so that the signal lands in
 * the middle of an epoch at a known step; D2L_TEST_KILL_AT=N kills the
 * process at the N-th output commit point (core/outfile.c). */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cmd/cmd.h"
#include "../core/checkpoint.h"
#include "proc.h"
#include "testutil.h"
#include "tmpdir.h"

/* Adam (moments, t) and dropout (masks numbered by the step): what a
 * resume must restore exactly. 200 rows in batches of 16: 13 steps an
 * epoch. */
static const char resume_yaml[] = "seed: 5\n"
                                  "data:\n"
                                  "  dataset: synthetic_linear\n"
                                  "  w_fill: 0.5\n"
                                  "  inputs: 8\n"
                                  "  b: 1\n"
                                  "  n_train: 200\n"
                                  "  n_test: 50\n"
                                  "  noise: 0.5\n"
                                  "  batch_size: 16\n"
                                  "model:\n"
                                  "  - linear: {out: 16}\n"
                                  "  - relu\n"
                                  "  - dropout: {p: 0.3}\n"
                                  "  - linear: {out: 1}\n"
                                  "loss: mse\n"
                                  "optimizer: {adam: {lr: 0.01}}\n"
                                  "train: {epochs: 10, checkpoint_every: 5}\n";

/* resume.yaml in the test's directory; its path into out (tmp_path's
 * buffers rotate). */
static void write_spec(char *out, size_t cap)
{
    snprintf(out, cap, "%s", tmp_write("resume.yaml", resume_yaml, sizeof resume_yaml - 1));
}

/* A test's directory, its resume.yaml and the path of its run's --out
 * (spec and dir hold 256 bytes). */
static void start(const char *tag, char *spec, char *dir)
{
    tmp_dir_make(tag);
    write_spec(spec, 256);
    snprintf(dir, 256, "%s", tmp_path("out"));
}

static const char *bin(void)
{
    return getenv("D2LTRAIN") ? getenv("D2LTRAIN") : "./d2ltrain";
}

static struct proc_result run_ok(const char *args)
{
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
    return r;
}

/* The epoch lines from "epoch FIRST/" on, without their times. */
static char *epoch_lines_from(const char *out, int first)
{
    char *all = epoch_lines_without_time(out), prefix[32];
    snprintf(prefix, sizeof prefix, "epoch %d/", first);
    char *at = strstr(all, prefix);
    ck_assert_msg(at != NULL, "no '%s' in:\n%s", prefix, all);
    char *copy = strdup(at);
    free(all);
    return copy;
}

/* DIR/metrics.jsonl with the "time_s" values (seconds, the only field that
 * differs between two runs) cut out. */
static char *metrics_without_time(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *text = test_read_text(path);
    for (char *t; (t = strstr(text, ",\"time_s\":"));) {
        char *end = strchr(t, '}');
        ck_assert_ptr_nonnull(end);
        memmove(t, end, strlen(end) + 1);
    }
    return text;
}

static int lines_in(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* DIR_A/NAME and DIR_B/NAME are the same bytes. */
static void assert_same_file(const char *dir_a, const char *dir_b, const char *name)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp '%s/%s' '%s/%s'", dir_a, name, dir_b, name);
    struct proc_result r = run_shell(cmd);
    ck_assert_msg(r.status == 0, "%s differ: %s", name, r.out);
    proc_result_free(&r);
}

/* A resumed DIR against the uninterrupted run's: the model, the curves and
 * every epoch's metrics but the times. */
static void assert_same_outputs(const char *whole_dir, const char *resumed_dir)
{
    assert_same_file(whole_dir, resumed_dir, "model.safetensors");
    assert_same_file(whole_dir, resumed_dir, "curves.svg");
    char *want = metrics_without_time(whole_dir), *got = metrics_without_time(resumed_dir);
    ck_assert_str_eq(got, want);
    free(want), free(got);
}

/* Resumed from DIR with SETS: the run goes on as the uninterrupted one
 * (trained here into a fresh directory) does: its epoch lines from `first`
 * on, and DIR ends with the same model, curves and metrics. */
static void assert_resume_matches(const char *spec, const char *sets, const char *dir, int first)
{
    char args[1024], whole_dir[256];
    snprintf(whole_dir, sizeof whole_dir, "%s", tmp_path("whole"));
    snprintf(args, sizeof args, "run %s --device cpu %s --resume %s", spec, sets, dir);
    struct proc_result rest = run_ok(args);
    char before[32];
    snprintf(before, sizeof before, "epoch %d/", first - 1);
    ck_assert_ptr_null(strstr(rest.out, before));
    snprintf(args, sizeof args, "run %s --device cpu %s --out %s", spec, sets, whole_dir);
    struct proc_result whole = run_ok(args);
    char *want = epoch_lines_from(whole.out, first), *got = epoch_lines_from(rest.out, first);
    ck_assert_str_eq(got, want);
    free(want), free(got);
    assert_same_outputs(whole_dir, dir);
    proc_result_free(&rest), proc_result_free(&whole);
}

/* `ENV d2ltrain run SPEC --device cpu SETS --out DIR`, which must exit
 * with `status` and leave the metrics of `epochs_kept` epochs in DIR. */
static struct proc_result run_stopped(const char *env, const char *spec, const char *sets, const char *dir, int status,
                                      int epochs_kept)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s '%s' run %s --device cpu %s --out %s", env, bin(), spec, sets, dir);
    struct proc_result r = run_shell(cmd);
    ck_assert_msg(r.status == status, "exit %d: %s", r.status, r.err);
    char *metrics = metrics_without_time(dir);
    ck_assert_int_eq(lines_in(metrics), epochs_kept);
    free(metrics);
    return r;
}

/* Stopped after epoch 5 (its checkpoint), resumed: epochs 6-10 as the
 * uninterrupted run prints them, bit for bit, and outputs of the whole run. */
START_TEST(resume_continues_bit_identically)
{
    char spec[256], dir[256];
    start("resume", spec, dir);
    struct proc_result first = run_stopped("", spec, "--set train.epochs=5", dir, 0, 5);
    assert_resume_matches(spec, "", dir, 6);
    /* a state that does not fit the spec's model is refused, naming the file */
    char args[1024];
    snprintf(args, sizeof args, "run %s --device cpu --set 'model=[{linear: {out: 1}}]' --resume %s", spec, dir);
    struct proc_result bad = run_d2ltrain(args);
    ck_assert_int_eq(bad.status, 3);
    ck_assert_ptr_nonnull(strstr(bad.err, "resume.safetensors: not a resume state of this spec's model"));
    proc_result_free(&first), proc_result_free(&bad);
    tmp_dir_remove();
}
END_TEST

/* SIGINT in the middle of epoch 4 (after its 6th step, the 45th in all):
 * that step finishes, the state is kept, the resume command printed, exit
 * 130; resumed, epoch 4 on are the uninterrupted run's. In the last step
 * of epoch 3 (the 39th): the epoch ends and is reported, the state is a
 * whole epoch's. With early stopping, in epoch 9, after the best epoch
 * (8): its best epoch is part of the state, so the resumed run stops early
 * at epoch 10 and restores epoch 8's parameters as the uninterrupted run
 * does (without them it would take epoch 9 for the best); the interrupted
 * run restores nothing (it goes on). */
START_TEST(sigint_resumes_exactly)
{
    const struct {
        int step, epochs_done;
        const char *sets, *says; /* says: before "; the state is in" */
    } cases[] = {{45, 3, "", "interrupted in epoch 4 after step 6 of 13"},
                 {39, 3, "", "interrupted after epoch 3"},
                 {110, 8, "--set 'train.early_stop={patience: 2}'", "interrupted in epoch 9 after step 6 of 13"}};
    char spec[256], dir[256];
    start("sigint", spec, dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char env[64], want[2048], next[32];
        int done = cases[i].epochs_done;
        snprintf(env, sizeof env, "D2L_TEST_SIGINT_AT_STEP=%d", cases[i].step);
        struct proc_result r = run_stopped(env, spec, cases[i].sets, dir, 130, done);
        snprintf(want, sizeof want,
                 "%s; the state is in %s/resume.safetensors; continue with: d2ltrain run '%s'%s%s --resume '%s'\n",
                 cases[i].says, dir, spec, *cases[i].sets ? " " : "", cases[i].sets, dir);
        ck_assert_msg(strstr(r.out, want) != NULL, "want %s in:\n%s", want, r.out);
        snprintf(next, sizeof next, "epoch %d/", done + 1);
        ck_assert_ptr_null(strstr(r.out, next));
        ck_assert_ptr_null(strstr(r.out, "restored the parameters"));
        assert_resume_matches(spec, cases[i].sets, dir, done + 1);
        proc_result_free(&r);
    }
    tmp_dir_remove();
}
END_TEST

/* checkpoint_every reaches DIR when it is taken: killed (SIGKILL) while
 * committing the epoch-4 checkpoint, DIR holds the whole epoch-2 set, and
 * a resume from it ends as the uninterrupted run. */
START_TEST(killed_after_a_checkpoint_resumes_from_it)
{
    char spec[256], dir[256];
    start("killed", spec, dir);
    /* a fresh DIR: commit points 1-4 are epoch 2's checkpoint, 5 the first of epoch 4's */
    const char *every2 = "--set train.checkpoint_every=2";
    struct proc_result r = run_stopped("D2L_TEST_KILL_AT=5", spec, every2, dir, 128 + 9, 2);
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 4/10"));
    assert_resume_matches(spec, every2, dir, 3);
    /* a metrics.jsonl that does not hold the epochs before the state is refused */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "head -n 3 '%s/metrics.jsonl' > '%s/m' && mv '%s/m' '%s/metrics.jsonl'", dir, dir, dir,
             dir);
    proc_result_free(&r);
    r = run_shell(cmd);
    ck_assert_int_eq(r.status, 0);
    snprintf(cmd, sizeof cmd, "run %s --device cpu --set train.epochs=12 --resume %s", spec, dir);
    struct proc_result bad = run_d2ltrain(cmd);
    ck_assert_int_eq(bad.status, 3);
    ck_assert_msg(strstr(bad.err, "metrics.jsonl: line 4 is not the metrics of epoch 4") != NULL, "%s", bad.err);
    proc_result_free(&r), proc_result_free(&bad);
    tmp_dir_remove();
}
END_TEST

/* Only `run --out` keeps checkpoints: run without --out, kfold and sweep
 * say that they keep none, and run --out says nothing. */
START_TEST(checkpoints_not_kept_are_noticed)
{
    char spec[256], dir[256];
    start("unkept", spec, dir);
    static const struct {
        const char *args, *notice; /* NULL: none */
    } cases[] = {
        {"run %s --device cpu --set train.epochs=1", "no checkpoint is kept without --out DIR"},
        {"run %s --device cpu --set train.epochs=1 --out %s", NULL},
        {"kfold %s --device cpu --set train.epochs=1", "kfold keeps no checkpoints (run --out does)"},
        {"sweep %s --device cpu --set train.epochs=1 --grid optimizer.adam.lr=0.01,0.02",
         "sweep keeps no checkpoints (run --out does)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, cases[i].args, spec, dir);
        struct proc_result r = run_ok(args);
        const char *at = strstr(r.err, "notice: train.checkpoint_every 5: ");
        if (cases[i].notice)
            ck_assert_msg(at && strstr(at, cases[i].notice), "%s: no notice '%s' in:\n%s", args, cases[i].notice,
                          r.err);
        else
            ck_assert_msg(!strstr(r.err, "checkpoint_every"), "%s: a notice in:\n%s", args, r.err);
        proc_result_free(&r);
    }
    tmp_dir_remove();
}
END_TEST

/* In process, on a classifier, whose epoch line shows the running loss and
 * accuracy summed over the epoch's steps: stopped between two steps, the
 * state written and read back (resume.safetensors), the rest of the
 * interrupted epoch and the epochs after are the uninterrupted run's. */
static const char classify_yaml[] = "seed: 3\n"
                                    "data: {dataset: fashion_mnist, batch_size: 8}\n"
                                    "model: [{linear: {out: 6}}, relu, {dropout: {p: 0.2}}, {linear: {out: 3}}]\n"
                                    "loss: cross_entropy\n"
                                    "optimizer: {sgd: {lr: 0.1, momentum: 0.9}}\n"
                                    "train: {epochs: 4}\n";

enum { ROWS = 100, TEST_ROWS = 30, WIDTH = 5, STEPS = (ROWS + 7) / 8 };

static void make_set(struct dataset *ds, size_t n, uint64_t *rng)
{
    *ds = (struct dataset){.n = n, .d = WIDTH, .x_type = X_F32, .y_width = 1, .n_classes = 3};
    float *x = malloc(n * WIDTH * sizeof *x), *y = malloc(n * sizeof *y);
    ck_assert(x && y);
    test_fill_uniform(x, n * WIDTH, rng, -1, 1);
    for (size_t i = 0; i < n; i++) /* learnable, with noise */
        y[i] = x[i * WIDTH] + 0.3 * test_rand_uniform(rng, -1, 1) > 0.2 ? 2 : x[i * WIDTH + 1] > 0 ? 1 : 0;
    ds->x = x;
    ds->y = y;
}

struct reports {
    struct epoch_report r[8];
};

static void keep_report(const struct epoch_report *r, void *arg)
{
    ((struct reports *)arg)->r[r->epoch - 1] = *r;
}

static void on_sigint(int sig)
{
    (void)sig;
    train_stop_requested = 1;
}

static struct spec *classify_spec(void)
{
    struct spec *s = calloc(1, sizeof *s);
    struct err e = {0};
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(spec_load_string(s, "c.yaml", classify_yaml, sizeof classify_yaml - 1, NULL, 0, &e) == 0, "%s",
                  e.msg);
    return s;
}

static void build(struct model *m, const struct spec *s, struct backend *be)
{
    struct err e = {0};
    ck_assert_msg(model_build(m, s, be, WIDTH, s->data.batch_size, &e) == 0, "%s", e.msg);
}

START_TEST(sums_of_a_stopped_epoch_carry_over)
{
    tmp_dir_make("carry");
    struct backend *be = test_cpu_backend();
    struct spec *s = classify_spec();
    struct err e = {0};
    uint64_t rng = 11;
    struct dataset train, test;
    make_set(&train, ROWS, &rng);
    make_set(&test, TEST_ROWS, &rng);
    struct model whole, stopped, resumed;
    struct reports want = {0}, got = {0};
    build(&whole, s, be);
    ck_assert_msg(train_model(&whole, s, &train, &test, false, keep_report, &want, NULL, &e) == 0, "%s", e.msg);

    /* SIGINT after step 30 in all: epoch 3, step 4 */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    setenv("D2L_TEST_SIGINT_AT_STEP", "30", 1);
    struct train_summary sum = {0};
    build(&stopped, s, be);
    ck_assert_msg(train_model(&stopped, s, &train, &test, false, keep_report, &got, &sum, &e) == 0, "%s", e.msg);
    unsetenv("D2L_TEST_SIGINT_AT_STEP");
    train_stop_requested = 0;
    ck_assert(sum.interrupted);
    ck_assert_int_eq(sum.stop.epoch, 2);
    ck_assert_int_eq(sum.stop.step, 30 - 2 * STEPS);
    ck_assert_double_eq(sum.stop.acc[ACC_COUNT], 8.0 * sum.stop.step);

    struct resume_state state = {0};
    ck_assert_msg(resume_snapshot(&state, &stopped, &sum.stop, NULL, &e) == 0, "%s", e.msg);
    FILE *f = fopen(tmp_path("resume.safetensors"), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(resume_write(f, &state, stopped.n_params, &e) == 0, "%s", e.msg);
    fclose(f);
    build(&resumed, s, be);
    struct train_summary from = {0};
    ck_assert_msg(resume_load(tmp_path(""), &resumed, STEPS, &from.start, NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(from.start.epoch, 2);
    ck_assert_int_eq(from.start.step, sum.stop.step);
    ck_assert_mem_eq(from.start.acc, sum.stop.acc, sizeof from.start.acc);
    ck_assert_msg(train_model(&resumed, s, &train, &test, false, keep_report, &got, &from, &e) == 0, "%s", e.msg);
    for (int i = 2; i < 4; i++) {
        ck_assert_int_eq(got.r[i].epoch, i + 1);
        ck_assert_double_eq(got.r[i].loss, want.r[i].loss);
        ck_assert_double_eq(got.r[i].train_acc, want.r[i].train_acc);
        ck_assert_double_eq(got.r[i].test_loss, want.r[i].test_loss);
        ck_assert_double_eq(got.r[i].test_acc, want.r[i].test_acc);
    }
    size_t bytes = whole.n_params * sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes);
    be->download(be, a, whole.params, bytes);
    be->download(be, b, resumed.params, bytes);
    ck_assert_mem_eq(a, b, bytes);

    /* a state after more steps than this spec's epochs have is refused */
    ck_assert_int_eq(resume_load(tmp_path(""), &resumed, sum.stop.step, &from.start, NULL, &e), EXIT_DATA);
    ck_assert_msg(strstr(e.msg, "it stopped after step 4 of an epoch, but this spec's epochs have 4 steps"), "%s",
                  e.msg);
    free(a), free(b);
    resume_free(&state);
    model_free(&whole), model_free(&stopped), model_free(&resumed);
    dataset_free(&train), dataset_free(&test);
    be->destroy(be);
    free(s);
    tmp_dir_remove();
}
END_TEST

/* A resume.safetensors from before a run could stop between steps (no
 * __metadata__) is a state after a whole epoch. */
START_TEST(an_epoch_only_state_still_loads)
{
    tmp_dir_make("oldstate");
    struct backend *be = test_cpu_backend();
    struct spec *s = classify_spec();
    struct err e = {0};
    struct model m;
    build(&m, s, be);
    size_t n = m.n_params;
    char header[512];
    snprintf(header, sizeof header,
             "{\"params\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[0,%zu]},"
             "\"opt_m\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]},"
             "\"opt_v\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]},"
             "\"epoch\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}}",
             n, 4 * n, n, 4 * n, 8 * n, n, 8 * n, 12 * n, 12 * n, 12 * n + 4);
    FILE *f = fopen(tmp_path("resume.safetensors"), "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t len = strlen(header);
    fwrite(&len, 8, 1, f);
    fwrite(header, 1, len, f);
    float *values = calloc(3 * n + 1, sizeof *values);
    values[0] = 0.25f;
    values[3 * n] = 7;
    fwrite(values, sizeof *values, 3 * n + 1, f);
    fclose(f);
    struct train_position at = {.step = -1};
    ck_assert_msg(resume_load(tmp_path(""), &m, STEPS, &at, NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(at.epoch, 7);
    ck_assert_int_eq(at.step, 0);
    ck_assert_double_eq(at.acc[ACC_COUNT], 0);
    float first;
    be->download(be, &first, m.params, sizeof first);
    ck_assert_float_eq(first, 0.25f);
    free(values);
    model_free(&m);
    be->destroy(be);
    free(s);
    tmp_dir_remove();
}
END_TEST

/* The first panel's y tick labels in DIR/curves.svg (the numbers after
 * the x axis's label "epoch") are evenly spaced: a linear axis; a log
 * axis labels 0.1, 0.2, 0.5, 1, ... */
static bool linear_ticks(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/curves.svg", dir);
    char *svg = test_read_text(path);
    const char *at = strstr(svg, ">epoch</text>");
    ck_assert_ptr_nonnull(at);
    double tick[3];
    int n = 0;
    for (at += 6; n < 3 && (at = strstr(at, "<text")) && (at = strchr(at, '>'));) {
        char *end;
        tick[n] = strtod(++at, &end);
        ck_assert_msg(end != at && *end == '<', "fewer than 3 y ticks in %s", path);
        n++;
    }
    free(svg);
    ck_assert_int_eq(n, 3);
    return fabs((tick[2] - tick[1]) - (tick[1] - tick[0])) < 1e-9;
}

/* run and kfold take plot's --log-y / --linear-y for curves.svg; the
 * automatic choice (log for a regression loss) stays the default. */
START_TEST(run_and_kfold_take_the_y_scale)
{
    tmp_dir_make("yscale");
    char spec[256];
    write_spec(spec, sizeof spec);
    const char *runs[][2] = {{"run", ""}, {"run", "--log-y"}, {"run", "--linear-y"},
                             {"kfold", "--set kfold.k=2"}, {"kfold", "--set kfold.k=2 --linear-y"}};
    bool want_linear[] = {false, false, true, false, true};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char args[1024], dir[256];
        snprintf(dir, sizeof dir, "%s", tmp_path(runs[i][0]));
        snprintf(args, sizeof args, "%s %s --device cpu --set train.epochs=3 %s --out %s", runs[i][0], spec,
                 runs[i][1], dir);
        struct proc_result r = run_ok(args);
        ck_assert_msg(linear_ticks(dir) == want_linear[i], "%s", args);
        proc_result_free(&r);
    }
    char args[1024];
    snprintf(args, sizeof args, "run %s --device cpu --log-y --linear-y", spec);
    struct proc_result both = run_d2ltrain(args);
    ck_assert_int_eq(both.status, 2);
    ck_assert_ptr_nonnull(strstr(both.err, "--log-y and --linear-y exclude each other"));
    proc_result_free(&both);
    tmp_dir_remove();
}
END_TEST

Suite *suite_resume(void)
{
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, resume_continues_bit_identically);
    tcase_add_test(tc, sigint_resumes_exactly);
    tcase_add_test(tc, killed_after_a_checkpoint_resumes_from_it);
    tcase_add_test(tc, checkpoints_not_kept_are_noticed);
    tcase_add_test(tc, sums_of_a_stopped_epoch_carry_over);
    tcase_add_test(tc, an_epoch_only_state_still_loads);
    tcase_add_test(tc, run_and_kfold_take_the_y_scale);
    suite_add_tcase(s, tc);
    return s;
}
