/* d2ltrain sweep end to end: the points give what separate runs give, a
 * bad value stops everything before training, seeds are averaged, a failed
 * point does not stop the others, Ctrl-C keeps the finished points. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/spec_points.h"
#include "proc.h"
#include "testutil.h"
#include "tmpdir.h"

/* d2l 4.4's polynomial fit, few epochs. */
static const char poly_spec[] = "name: poly\n"
                                "seed: 42\n"
                                "data: {dataset: synthetic_poly, w: [5, 1.2, -3.4, 5.6], max_degree: 20, features: 4,\n"
                                "       n_train: 100, n_test: 100, noise: 0.1, batch_size: 10}\n"
                                "model:\n"
                                "  - linear: {out: 8}\n"
                                "  - relu\n"
                                "  - linear: {out: 1}\n"
                                "loss: mse\n"
                                "optimizer: {sgd: {lr: 0.01}}\n"
                                "train: {epochs: 4}\n";

/* The file with every "time_s":N removed: the one thing two runs differ in. */
static char *read_timeless(const char *path)
{
    char *text = test_read_text(path);
    for (char *at; (at = strstr(text, ",\"time_s\":"));) {
        char *end = at + 10;
        while (*end && *end != '}')
            end++;
        memmove(at, end, strlen(end) + 1);
    }
    return text;
}

static void assert_same_file(const char *a, const char *b, bool timeless)
{
    char *x = timeless ? read_timeless(a) : test_read_text(a), *y = timeless ? read_timeless(b) : test_read_text(b);
    ck_assert_msg(!strcmp(x, y), "%s and %s differ:\n%s\n---\n%s", a, b, x, y);
    free(x), free(y);
}

/* A scratch directory with poly.yaml in it, whose path goes to spec (a
 * copy: tmp_path's buffers rotate). */
static void make_spec(char *spec, size_t cap)
{
    tmp_dir_make("sweep");
    snprintf(spec, cap, "%s", tmp_write("poly.yaml", poly_spec, sizeof poly_spec - 1));
}

static struct proc_result sweep(const char *spec, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sweep %s %s", spec, args);
    return run_d2ltrain(cmd);
}

/* sweep SPEC ARGS --out TMP/out */
static struct proc_result sweep_to_out(const char *spec, const char *args)
{
    char all[2048];
    snprintf(all, sizeof all, "%s --out %s", args, tmp_path("out"));
    return sweep(spec, all);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The lines of sweep.jsonl, parsed. */
static int read_jsonl(const char *path, json_t **lines, int max)
{
    char *text = test_read_text(path);
    int n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        ck_assert_int_lt(n, max);
        json_error_t je;
        lines[n] = json_loads(line, 0, &je);
        ck_assert_msg(lines[n] != NULL, "%s: %s", path, je.text);
        n++;
    }
    free(text);
    return n;
}

/* Four points (2 x 2, one of them a list item) are what four `run`s give:
 * the same metrics.jsonl (but the times), config.yaml, model.safetensors
 * and curves.svg; the same final epoch line; sweep.jsonl's final metrics
 * are the runs' last epoch; the table is ordered by test_loss; sweep.svg
 * is a chart. */
START_TEST(points_are_what_separate_runs_give)
{
    char spec[512];
    make_spec(spec, sizeof spec);
    char args[2048], out[512];
    snprintf(out, sizeof out, "%s", tmp_path("sw"));
    snprintf(args, sizeof args, "--grid optimizer.sgd.lr=0.01,0.03 --grid 'model[0].linear.out=8,16' --out %s", out);
    struct proc_result s = sweep(spec, args);
    ck_assert_msg(s.status == 0, "exit %d: %s", s.status, s.err);
    const char *lrs[] = {"0.01", "0.01", "0.03", "0.03"}, *outs[] = {"8", "16", "8", "16"};
    json_t *lines[8];
    ck_assert_int_eq(read_jsonl(tmp_path("sw/sweep.jsonl"), lines, 8), 4);
    for (int i = 0; i < 4; i++) {
        char run_dir[512], point_dir[1100], file_a[1200], file_b[1200];
        snprintf(run_dir, sizeof run_dir, "%s", tmp_path("run"));
        snprintf(point_dir, sizeof point_dir, "%s/lr=%s,out=%s", out, lrs[i], outs[i]);
        snprintf(args, sizeof args, "run %s --set optimizer.sgd.lr=%s --set 'model[0].linear.out=%s' --out %s", spec,
                 lrs[i], outs[i], run_dir);
        struct proc_result r = run_d2ltrain(args);
        ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
        const char *files[] = {"metrics.jsonl", "config.yaml", "model.safetensors", "curves.svg"};
        for (int f = 0; f < 4; f++) {
            snprintf(file_a, sizeof file_a, "%s/%s", run_dir, files[f]);
            snprintf(file_b, sizeof file_b, "%s/%s", point_dir, files[f]);
            assert_same_file(file_a, file_b, f == 0);
        }
        /* the run's last epoch line is the point's line */
        char *epochs = epoch_lines_without_time(r.out), *last = epochs + strlen(epochs) - 1;
        *last = '\0';
        last = strrchr(epochs, '\n') ? strrchr(epochs, '\n') + 1 : epochs;
        char want[1024];
        snprintf(want, sizeof want, "point %d/4 optimizer.sgd.lr=%s model[0].linear.out=%s: %s time ", i + 1, lrs[i],
                 outs[i], last);
        ck_assert_msg(strstr(s.out, want), "no line '%s' in\n%s", want, s.out);
        /* sweep.jsonl's final metrics are the run's last epoch */
        json_t *final = json_object_get(lines[i], "final");
        ck_assert_int_eq(json_integer_value(json_object_get(lines[i], "point")), i + 1);
        ck_assert_str_eq(json_string_value(json_object_get(lines[i], "status")), "finished");
        double loss = 0;
        ck_assert_int_eq(sscanf(strstr(last, " test_loss ") + 11, "%lf", &loss), 1);
        ck_assert_msg(fabs(json_real_value(json_object_get(final, "test_loss")) - loss) <= 5e-7 * fabs(loss) + 1e-6,
                      "point %d: test_loss %.9g, the run printed %.9g", i + 1,
                      json_real_value(json_object_get(final, "test_loss")), loss);
        free(epochs);
        proc_result_free(&r);
    }
    /* the table: ranked by test_loss (regression), lowest first */
    const char *table = strstr(s.out, "rank  ");
    ck_assert_msg(table && strstr(table, "test_loss"), "%s", s.out);
    double previous = -1;
    int rows = 0;
    for (const char *line = strchr(table, '\n') + 1; *line >= '1' && *line <= '9'; line = strchr(line, '\n') + 1) {
        int rank, point = -1;
        char lr[16], width[16];
        double test_loss;
        ck_assert_int_eq(sscanf(line, "%d %15s %15s %lf", &rank, lr, width, &test_loss), 4);
        for (int i = 0; i < 4; i++)
            if (!strcmp(lr, lrs[i]) && !strcmp(width, outs[i]))
                point = i;
        ck_assert_int_ge(point, 0);
        double want = json_real_value(json_object_get(json_object_get(lines[point], "final"), "test_loss"));
        ck_assert_msg(fabs(test_loss - want) <= 1e-6 * fabs(want) + 1e-6, "%s", line);
        ck_assert_msg(test_loss >= previous, "not ranked by test_loss:\n%s", table);
        previous = test_loss;
        rows++;
    }
    ck_assert_int_eq(rows, 4);
    for (int i = 0; i < 4; i++)
        json_decref(lines[i]);
    char check[1024];
    snprintf(check, sizeof check, "python3 scripts/svg_check.py chart:%s/sweep.svg", out);
    struct proc_result svg = run_shell(check);
    ck_assert_msg(svg.status == 0, "%s: %s%s", check, svg.out, svg.err);
    proc_result_free(&svg);
    proc_result_free(&s);
    tmp_dir_remove();
}
END_TEST

/* sweep SPEC --points FILE stops with exit 2 and an error containing want. */
static void assert_points_refused(const char *spec, const char *file, const char *want)
{
    char args[2048];
    snprintf(args, sizeof args, "--points %s", file);
    struct proc_result r = sweep(spec, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, want), "%s", r.err);
    proc_result_free(&r);
}

/* A bad value names the point, its key=values and the --set as run would,
 * before anything trains: no line, no output directory. So does a bad
 * points file, at its line and column. */
START_TEST(a_bad_value_stops_everything_before_training)
{
    char spec[512];
    make_spec(spec, sizeof spec);
    char args[2048];
    snprintf(args, sizeof args, "--grid optimizer.sgd.lr=0.01,abc --grid 'data.w=[1,2],[3,4]' --out %s",
             tmp_path("out"));
    struct proc_result r = sweep(spec, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "point 3/4 (optimizer.sgd.lr=abc data.w=[1,2]): --set optimizer.sgd.lr=abc: "
                                "optimizer.sgd.lr: expected a number, got 'abc'"),
                  "%s", r.err);
    ck_assert_msg(!strstr(r.out, "point "), "something trained:\n%s", r.out);
    ck_assert(!exists(tmp_path("out")));
    proc_result_free(&r);

    const char points[] = "- {optimizer.sgd.lr: 0.1}\n- 3\n";
    const char *file = tmp_write("points.yaml", points, sizeof points - 1);
    snprintf(args, sizeof args, "--points %s --out %s", file, tmp_path("out"));
    r = sweep(spec, args);
    ck_assert_int_eq(r.status, 2);
    char want[1024];
    snprintf(want, sizeof want, "%s:2:3: point 2: expected a mapping of key.path: value", file);
    ck_assert_msg(strstr(r.err, want), "%s", r.err);
    ck_assert(!exists(tmp_path("out")));
    proc_result_free(&r);

    file = tmp_write("empty.yaml", "", 0); /* read as no buffer at all: libyaml asserted on it */
    snprintf(want, sizeof want, "%s: no points in it", file);
    assert_points_refused(spec, file, want);

    const char bad_points[] = "- {optimizer.sgd.lr: 0.1}\n- {train.epochs: -3}\n";
    file = tmp_write("bad.yaml", bad_points, sizeof bad_points - 1);
    snprintf(want, sizeof want, "point 2/2 (train.epochs=-3, %s:2:3): --set train.epochs=-3: train.epochs:", file);
    assert_points_refused(spec, file, want);

    r = sweep(spec, "--grid 'optimizer.sgd.lr=0.1,,0.3'");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--grid optimizer.sgd.lr=0.1,,0.3: value 2 is empty"), "%s", r.err);
    proc_result_free(&r);
    r = sweep(spec, "--grid seed=1,2 --rank-by accuracy");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--rank-by accuracy: not a metric"), "%s", r.err);
    proc_result_free(&r);
    /* a directory the sweep did not write is not replaced */
    ck_assert_int_eq(mkdir(tmp_path("mine"), 0777), 0);
    tmp_write("mine/notes.txt", "x", 1);
    snprintf(args, sizeof args, "--grid seed=1,2 --out %s", tmp_path("mine"));
    r = sweep(spec, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "holds files that no sweep wrote"), "%s", r.err);
    ck_assert(exists(tmp_path("mine/notes.txt")));
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* --grid seed=...: the group lines of sweep.jsonl and the table hold the
 * mean and the sample standard deviation of the points' final metrics. */
START_TEST(seeds_are_averaged)
{
    char spec[512];
    make_spec(spec, sizeof spec);
    struct proc_result r = sweep_to_out(spec, "--grid optimizer.sgd.lr=0.01,0.03 --grid seed=1,2,3");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_t *lines[16];
    ck_assert_int_eq(read_jsonl(tmp_path("out/sweep.jsonl"), lines, 16), 8);
    for (int g = 0; g < 2; g++) {
        double x[3], sum = 0, sq = 0;
        for (int k = 0; k < 3; k++) {
            x[k] = json_real_value(json_object_get(json_object_get(lines[g * 3 + k], "final"), "test_loss"));
            sum += x[k];
        }
        double mean = sum / 3;
        for (int k = 0; k < 3; k++)
            sq += (x[k] - mean) * (x[k] - mean);
        double std = sqrt(sq / 2);
        json_t *group = lines[6 + g];
        ck_assert_int_eq(json_integer_value(json_object_get(group, "group")), g + 1);
        double got_mean = json_real_value(json_object_get(json_object_get(group, "mean"), "test_loss"));
        double got_std = json_real_value(json_object_get(json_object_get(group, "std"), "test_loss"));
        ck_assert_msg(fabs(got_mean - mean) <= 1e-12 * fabs(mean), "mean %.17g, want %.17g", got_mean, mean);
        ck_assert_msg(fabs(got_std - std) <= 1e-9 * std + 1e-15, "std %.17g, want %.17g", got_std, std);
        ck_assert(std > 0); /* the seeds do differ */
        char cell[128];
        snprintf(cell, sizeof cell, "%.6f ± %.6f", mean, std);
        if (mean < 1e-3 || std < 1e-3)
            continue; /* printed with significant digits instead */
        ck_assert_msg(strstr(r.out, cell), "no '%s' in the table:\n%s", cell, r.out);
    }
    for (int i = 0; i < 8; i++)
        json_decref(lines[i]);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* A point that diverges is failed in its line, the table and sweep.jsonl;
 * the others train; the exit status is the failure's. */
START_TEST(a_failed_point_leaves_the_others)
{
    char spec[512];
    make_spec(spec, sizeof spec);
    struct proc_result r = sweep_to_out(spec, "--grid optimizer.sgd.lr=0.01,1000,0.02");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.out, "point 2/3 optimizer.sgd.lr=1000: failed: the loss became NaN or infinite"), "%s",
                  r.out);
    ck_assert_msg(strstr(r.out, "point 1/3 optimizer.sgd.lr=0.01: epoch 4/4"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "point 3/3 optimizer.sgd.lr=0.02: epoch 4/4"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "3     1000              failed"), "%s", r.out);
    json_t *lines[4];
    ck_assert_int_eq(read_jsonl(tmp_path("out/sweep.jsonl"), lines, 4), 3);
    ck_assert_str_eq(json_string_value(json_object_get(lines[1], "status")), "failed");
    ck_assert(strstr(json_string_value(json_object_get(lines[1], "error")), "NaN or infinite"));
    ck_assert(exists(tmp_path("out/lr=0.01/model.safetensors")));
    ck_assert(!exists(tmp_path("out/lr=1000")));
    for (int i = 0; i < 3; i++)
        json_decref(lines[i]);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* Ctrl-C: no new point starts, the running ones end after their epoch and
 * are left out, the finished ones are written; exit 130. */
START_TEST(sigint_keeps_the_finished_points)
{
    char spec[512];
    make_spec(spec, sizeof spec);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "\"$D2LTRAIN\" sweep %s --set train.epochs=400 --grid seed=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
             "19,20 --grid optimizer.sgd.lr=0.01,0.02 --threads 1 --out %s > %s & pid=$!; "
             "while kill -0 $pid 2>/dev/null && ! grep -q '^point' %s; do sleep 0.05; done; kill -INT $pid; wait $pid",
             spec, tmp_path("out"), tmp_path("stdout"), tmp_path("stdout"));
    struct proc_result r = run_shell(cmd);
    ck_assert_int_eq(r.status, 130);
    char *out = test_read_text(tmp_path("stdout"));
    int finished = 0;
    for (const char *p = out; (p = strstr(p, ": epoch 400/400")); p++)
        finished++;
    ck_assert_msg(finished >= 1 && finished < 40, "%d finished:\n%s", finished, out);
    ck_assert_msg(strstr(out, "interrupted: the points that finished are in the table"), "%s", out);
    json_t *lines[64];
    int n = read_jsonl(tmp_path("out/sweep.jsonl"), lines, 64), points = 0;
    for (int i = 0; i < n; i++) {
        if (!json_object_get(lines[i], "point")) { /* the seed groups' lines */
            ck_assert_int_eq(json_integer_value(json_object_get(lines[i], "finished")),
                             json_array_size(json_object_get(lines[i], "seeds")));
            json_decref(lines[i]);
            continue;
        }
        points++;
        char dir[512];
        snprintf(dir, sizeof dir, "out/%s/model.safetensors", json_string_value(json_object_get(lines[i], "name")));
        ck_assert_msg(exists(tmp_path(dir)), "%s is missing", dir);
        json_decref(lines[i]);
    }
    ck_assert_int_eq(points, finished);
    free(out);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* Flow lists as grid values, names made safe and unique, --points crossed
 * with the grid. */
START_TEST(values_names_and_points_files)
{
    char spec[512];
    make_spec(spec, sizeof spec);
    const char points[] = "- {optimizer.sgd.lr: 0.01, data.w: [5, 1.2]}\n- {optimizer.sgd.lr: '0.02'}\n";
    const char *file = tmp_write("points.yaml", points, sizeof points - 1);
    char args[1024];
    snprintf(args, sizeof args, "--points %s --grid 'model[0]=relu,{linear: {out: 4}}' --set train.epochs=1 --out %s",
             file, tmp_path("out"));
    struct proc_result r = sweep(spec, args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_t *lines[8];
    ck_assert_int_eq(read_jsonl(tmp_path("out/sweep.jsonl"), lines, 8), 4);
    const char *names[] = {"lr=0.01,w=_5__1.2_,model_0_=relu", "lr=0.01,w=_5__1.2_,model_0_=_linear___out__4__",
                           "lr=0.02,model_0_=relu", "lr=0.02,model_0_=_linear___out__4__"};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(json_string_value(json_object_get(lines[i], "name")), names[i]);
        char path[512];
        snprintf(path, sizeof path, "out/%s/config.yaml", names[i]);
        char *config = test_read_text(tmp_path(path));
        ck_assert_msg(strstr(config, i < 2 ? "coefficients: [5, 1.2]\n" : "coefficients: [5, 1.2, -3.4, 5.6]\n"), "%s",
                      config);
        ck_assert_msg(strstr(config, i % 2 ? "out: 4" : "- relu"), "%s", config);
        free(config);
        json_decref(lines[i]);
    }
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* The entries of dir, sorted, as one space-separated line; each point
 * directory must hold its model. */
static void listing(const char *dir, char *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "", names[i]->d_name);
            if (!strncmp(names[i]->d_name, "seed=", 5)) {
                char model[1024];
                snprintf(model, sizeof model, "%s/%s/model.safetensors", dir, names[i]->d_name);
                ck_assert_msg(exists(model), "%s is missing", model);
            }
        }
        free(names[i]);
    }
    free(names);
}

/* A sweep's --out is one set, point directories included: killed at every
 * commit point, DIR holds the whole old sweep or the whole new one; a new
 * sweep replaces an old one entirely; what a killed one left beside DIR is
 * gone after the next. */
START_TEST(killed_sweeps_leave_one_whole_set)
{
    char spec[512], out[512], cmd[2048], got[1024];
    make_spec(spec, sizeof spec);
    snprintf(out, sizeof out, "%s", tmp_path("out"));
    const char *old = ".d2ltrain-whole-set seed=1 seed=2 sweep.jsonl sweep.svg";
    const char *new = ".d2ltrain-whole-set seed=3 sweep.jsonl sweep.svg";
    for (int n = 1; n <= 5; n++) {
        snprintf(cmd, sizeof cmd, "sweep %s --set train.epochs=1 --grid seed=1,2 --out %s", spec, out);
        struct proc_result r = run_d2ltrain(cmd);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        proc_result_free(&r);
        listing(out, got, sizeof got);
        ck_assert_str_eq(got, old);
        snprintf(cmd, sizeof cmd, "D2L_TEST_KILL_AT=%d \"$D2LTRAIN\" sweep %s --set train.epochs=1 --grid seed=3 --out %s",
                 n, spec, out);
        r = run_shell(cmd);
        ck_assert_msg(r.status == 128 + SIGKILL, "kill at %d: exit %d: %s", n, r.status, r.err);
        proc_result_free(&r);
        listing(out, got, sizeof got);
        ck_assert_msg(!strcmp(got, n < 3 ? old : new), "killed at commit point %d: %s", n, got);
    }
    listing(tmp_path(""), got, sizeof got); /* the last kill left the old set beside DIR */
    ck_assert_msg(strstr(got, ".out.d2ltrain-"), "%s", got);
    snprintf(cmd, sizeof cmd, "sweep %s --set train.epochs=1 --grid seed=3 --out %s", spec, out);
    struct proc_result r = run_d2ltrain(cmd);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    proc_result_free(&r);
    listing(tmp_path(""), got, sizeof got);
    ck_assert_str_eq(got, "out poly.yaml");
    tmp_dir_remove();
}
END_TEST

/* --set model[i]: --print-model shows the changed layer. */
START_TEST(list_item_set_changes_the_model)
{
    struct proc_result r = run_d2ltrain("run configs/blocks_ch5.yaml --set 'model[7].linear.out=16' --print-model");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "(7): Linear(in_features=8, out_features=16, bias=True)"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "(9): Linear(in_features=16, out_features=1, bias=True)"), "%s", r.out);
    proc_result_free(&r);
    r = run_d2ltrain("run configs/blocks_ch5.yaml --set 'model[10].linear.out=16' --print-model");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--set model[10].linear.out=16: model[10]: index 10 is out of range: model has 10 "
                                "items (indices 0 to 9)"),
                  "%s", r.err);
    proc_result_free(&r);
}
END_TEST

/* A point's values are written back as --set texts that read as the same
 * YAML: a '?' first is quoted (inside {...} it would start a key), as is a
 * lone '-'; a negative number stays plain; a control character or a line
 * break (NEL) is escaped. */
START_TEST(point_texts_read_back)
{
    const char points[] = "- {optimizer: {sgd: {lr: '?x'}}, data.w: ['?- y', -1, '-'], loss: \"x\\by\\N\"}\n";
    const char *file = tmp_write("points.yaml", points, sizeof points - 1);
    struct spec_point *p;
    int n;
    struct err e = {0};
    ck_assert_msg(spec_points_load(file, &p, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(p[0].n_sets, 3);
    ck_assert_str_eq(p[0].sets[0], "optimizer={sgd: {lr: \"?x\"}}");
    ck_assert_str_eq(p[0].sets[1], "data.w=[\"?- y\", -1, \"-\"]");
    ck_assert_str_eq(p[0].sets[2], "loss=\"x\\x08y\\x85\"");
    spec_points_free(p, n);
    tmp_dir_remove();
}
END_TEST

/* --grid values split at the commas outside brackets, braces and quotes;
 * a \" inside double quotes does not end them. */
START_TEST(grid_values_split_outside_brackets_and_quotes)
{
    const char text[] = "\"a\\\",b\",[1, 2],{x: 'it''s, y'},-1";
    const char *want[] = {"\"a\\\",b\"", "[1, 2]", "{x: 'it''s, y'}", "-1"};
    struct grid_value *v;
    int n;
    struct err e = {0};
    ck_assert_msg(spec_grid_split(text, "k=...", &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < n; i++)
        ck_assert_msg(v[i].len == strlen(want[i]) && !strncmp(text + v[i].start, want[i], v[i].len),
                      "value %d: %.*s, not %s", i + 1, (int)v[i].len, text + v[i].start, want[i]);
    free(v);
    ck_assert_int_eq(spec_grid_split("[1]],2", "k=[1]],2", &v, &n, &e), 2);
    ck_assert_str_eq(e.msg, "--grid k=[1]],2: a bracket is closed that was not opened");
    ck_assert_ptr_null(v);
}
END_TEST

Suite *suite_sweep(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, points_are_what_separate_runs_give);
    tcase_add_test(tc, a_bad_value_stops_everything_before_training);
    tcase_add_test(tc, seeds_are_averaged);
    tcase_add_test(tc, a_failed_point_leaves_the_others);
    tcase_add_test(tc, sigint_keeps_the_finished_points);
    tcase_add_test(tc, values_names_and_points_files);
    tcase_add_test(tc, point_texts_read_back);
    tcase_add_test(tc, grid_values_split_outside_brackets_and_quotes);
    tcase_add_test(tc, list_item_set_changes_the_model);
    tcase_add_test(tc, killed_sweeps_leave_one_whole_set);
    suite_add_tcase(s, tc);
    return s;
}
