/* Plots and image grids: the chart logic on hand-made curves (log axis,
 * panels, integer epoch ticks, escaping), then every SVG kind the commands
 * write, checked by scripts/svg_check.py (XML, text inside the canvas, the
 * legend off the plot) and drawn by headless Chromium (not blank). */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/curves.h"
#include "proc.h"
#include "testutil.h"
#include "tmpdir.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* curves_draw into a string. */
static char *draw_runs(const char *title, const char *const *run_names, const struct curve *c, int n,
                       enum y_scale scale)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    curves_draw(f, title, run_names, c, n, scale);
    fclose(f);
    return text;
}

/* One run's curves. */
static char *draw(const char *title, const struct curve *c, int n, enum y_scale scale)
{
    return draw_runs(title, NULL, c, n, scale);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

enum { LOOK = 128 };

/* How each line of a chart looks, in the order drawn: its stroke and dash
 * attributes, then the shape of the marker drawn on it ("" for none). */
static int line_looks(const char *svg, char looks[][LOOK], int max)
{
    static const char start[] = "<path fill=\"none\" stroke=";
    int n = 0;
    for (const char *p = strstr(svg, start); p && n < max; p = strstr(p + 1, start), n++) {
        const char *d = strstr(p, " d=\""), *next = strchr(strstr(d, "/>"), '<');
        char shape[64] = "";
        int at = 0;
        if (next && sscanf(next, "<circle cx=\"%*f\" cy=\"%*f\" r=\"3.5\"%n", &at) == 0 && at > 0)
            snprintf(shape, sizeof shape, "circle");
        else if (next)
            sscanf(next, "<path d=\"M%*f %*f %63[^\"]", shape);
        snprintf(looks[n], LOOK, "%.*s %s", (int)(d - p), p, shape);
    }
    return n;
}

/* The stroke colour of the i-th line into color, "" when there is none. */
enum { COLOR = 16 };
static const char *line_color(const char *svg, int i, char color[COLOR])
{
    char looks[CURVES_MAX][LOOK];
    color[0] = '\0';
    if (line_looks(svg, looks, CURVES_MAX) > i)
        sscanf(looks[i], "<path fill=\"none\" stroke=\"%15[^\"]", color);
    return color;
}

static void check_svg(const char *kinds_and_files)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 scripts/svg_check.py %s", kinds_and_files);
    struct proc_result r = run_shell(cmd);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", cmd, r.status, r.err);
    proc_result_free(&r);
}

static const char *save(const char *name, const char *svg)
{
    return tmp_write(name, svg, strlen(svg));
}

static void check_chart(const char *path)
{
    char arg[1024];
    snprintf(arg, sizeof arg, "chart:%s", path);
    check_svg(arg);
}

/* A regression loss from 10 down to 0.001: logarithmic, ticks at decades. */
START_TEST(regression_loss_gets_a_log_axis)
{
    double y[20];
    for (int i = 0; i < 20; i++)
        y[i] = 10 * pow(1e-4, i / 19.0);
    struct curve c = {.metric = "loss", .y = y, .n = 20};
    tmp_dir_make("plots");
    char *log = draw("t", &c, 1, Y_SCALE_AUTO), *linear = draw("t", &c, 1, Y_SCALE_LINEAR);
    for (const char *tick = ">0.001<"; tick; tick = strcmp(tick, ">0.001<") ? NULL : ">10<")
        ck_assert_msg(strstr(log, tick), "no tick %s in\n%s", tick, log);
    ck_assert_ptr_null(strstr(linear, ">0.001<"));
    ck_assert_ptr_nonnull(strstr(linear, ">10<"));
    ck_assert_ptr_nonnull(strstr(linear, ">0<"));
    check_chart(save("log.svg", log));
    free(log), free(linear);
    tmp_dir_remove();
}
END_TEST

/* Accuracy with a loss below 1.5 shares one panel (d2l's train_ch3); a
 * Kaggle loss of 1e10 and its log-RMSE get a panel each; --log-y never
 * makes accuracy logarithmic. */
START_TEST(panels_split_when_scales_differ)
{
    double loss[5] = {1.0, 0.6, 0.5, 0.45, 0.4}, acc[5] = {0.6, 0.78, 0.81, 0.83, 0.84};
    double big[5] = {4e10, 3e10, 1e10, 5e9, 2e9}, rmse[5] = {3.7, 2, 0.9, 0.3, 0.17};
    struct curve cls[2] = {{.metric = "loss", .y = loss, .n = 5}, {.metric = "test_acc", .y = acc, .n = 5}};
    struct curve kag[3] = {{.metric = "loss", .y = big, .n = 5},
                           {.metric = "train_log_rmse", .y = rmse, .n = 5},
                           {.metric = "valid_log_rmse", .y = rmse, .n = 5}};
    char *one = draw("cls", cls, 2, Y_SCALE_AUTO), *two = draw("kaggle", kag, 3, Y_SCALE_AUTO);
    char *forced = draw("cls", cls, 2, Y_SCALE_LOG);
    ck_assert_int_eq(count(one, "stroke=\"#444\""), 1);
    ck_assert_int_eq(count(two, "stroke=\"#444\""), 2);
    ck_assert_int_eq(count(forced, "stroke=\"#444\""), 2);
    ck_assert_ptr_nonnull(strstr(two, ">1e10<"));
    ck_assert_ptr_nonnull(strstr(forced, ">0.70<")); /* the accuracy panel stays linear */
    ck_assert_int_eq(count(two, "stroke-dasharray"), 2); /* valid_ dashed: line and legend */
    tmp_dir_make("plots");
    char files[1024];
    snprintf(files, sizeof files, "chart:%s chart:%s chart:%s", save("one.svg", one), save("two.svg", two),
             save("forced.svg", forced));
    check_svg(files);
    tmp_dir_remove();
    free(one), free(two), free(forced);
}
END_TEST

/* Epoch ticks are whole numbers, at most about ten of them. */
START_TEST(epoch_ticks_are_integers)
{
    double y[400];
    for (int i = 0; i < 400; i++)
        y[i] = 1.0 / (i + 1);
    struct curve c = {.metric = "train_acc", .y = y, .n = 400};
    char *svg = draw("t", &c, 1, Y_SCALE_AUTO);
    int ticks = 0;
    for (const char *p = svg; (p = strstr(p, "text-anchor=\"middle\">")); p++) {
        char label[32];
        if (sscanf(p, "text-anchor=\"middle\">%31[^<]", label) == 1 && strcmp(label, "epoch")) {
            char *end;
            long v = strtol(label, &end, 10);
            ck_assert_msg(*end == '\0' && v >= 1 && v <= 400, "epoch tick '%s'", label);
            ticks++;
        }
    }
    ck_assert_int_ge(ticks, 4);
    ck_assert_int_le(ticks, 10);
    free(svg);
}
END_TEST

/* Every string, title and legend alike, is XML text, and UTF-8 even when
 * the bytes given were not. */
START_TEST(every_string_is_escaped)
{
    double y[3] = {0.5, 0.4, 0.3};
    const char *run = "a<b>&\"'";
    struct curve c = {.metric = "loss", .y = y, .n = 3};
    char *svg = draw_runs("<script>&\x01'\" \xce\xbb=0 \xff\xce", &run, &c, 1, Y_SCALE_AUTO); /* λ, then not UTF-8 */
    ck_assert_ptr_null(strstr(svg, "<script"));
    ck_assert_ptr_nonnull(strstr(svg, "&lt;script&gt;&amp;\xef\xbf\xbd&apos;&quot; \xce\xbb=0 \xef\xbf\xbd\xef\xbf\xbd<"));
    ck_assert_ptr_nonnull(strstr(svg, ">a&lt;b&gt;&amp;&quot;&apos;<"));
    tmp_dir_make("plots");
    check_chart(save("esc.svg", svg));
    tmp_dir_remove();
    free(svg);
}
END_TEST

/* Several runs: a colour per run, the same for all its metrics; a line
 * style per metric, the same for all runs (train solid, test dashed); the
 * legend names each run once, then the metrics' styles. */
START_TEST(each_run_has_a_colour_of_its_own)
{
    double loss[2][4] = {{1, 0.5, 0.3, 0.2}, {1, 0.7, 0.6, 0.55}};
    double test[2][4] = {{1.1, 0.6, 0.4, 0.3}, {1.2, 0.8, 0.7, 0.6}};
    const char *names[2] = {"lr=0.3, std=0.01", "lr=0.1, std=0.01"};
    struct curve c[4] = {{.run = 0, .metric = "loss", .y = loss[0], .n = 4},
                         {.run = 0, .metric = "test_loss", .y = test[0], .n = 4},
                         {.run = 1, .metric = "loss", .y = loss[1], .n = 4},
                         {.run = 1, .metric = "test_loss", .y = test[1], .n = 4}};
    char *svg = draw_runs("lr", names, c, 4, Y_SCALE_LINEAR);
    char looks[8][LOOK];
    ck_assert_int_eq(line_looks(svg, looks, 8), 4);
    char run0[COLOR], run0_test[COLOR], run1[COLOR], run1_test[COLOR];
    line_color(svg, 0, run0), line_color(svg, 1, run0_test), line_color(svg, 2, run1), line_color(svg, 3, run1_test);
    ck_assert_msg(*run0 && !strcmp(run0, run0_test), "a run's metrics in one colour: %s, %s", looks[0], looks[1]);
    ck_assert_msg(strcmp(run0, run1), "two runs in one colour: %s, %s", looks[0], looks[2]);
    ck_assert_str_eq(run1_test, run1);
    ck_assert_ptr_null(strstr(looks[0], "dasharray")); /* train solid */
    ck_assert_ptr_nonnull(strstr(looks[1], "stroke-dasharray=\"6 3\"")); /* test dashed */
    ck_assert_ptr_nonnull(strstr(looks[3], "stroke-dasharray=\"6 3\""));
    for (int r = 0; r < 2; r++) { /* a legend entry per run, in the run's colour */
        char entry[128];
        snprintf(entry, sizeof entry, ">%s<", names[r]);
        ck_assert_msg(count(svg, entry) == 1, "legend entries %s: %d", entry, count(svg, entry));
    }
    ck_assert_int_eq(count(svg, ">loss<"), 2); /* the key and the y label */
    ck_assert_int_eq(count(svg, ">test_loss<"), 1);
    ck_assert_int_eq(count(svg, "<line x1") - count(svg, "stroke=\"#e0e0e0\""), 4); /* 2 runs, 2 styles */
    char want[64];
    snprintf(want, sizeof want, "stroke=\"%s\" stroke-width=\"2\"/>", run1);
    ck_assert_msg(strstr(svg, want), "no legend line in %s", run1);
    tmp_dir_make("plots");
    check_chart(save("runs.svg", svg));
    tmp_dir_remove();
    free(svg);
}
END_TEST

/* More runs than colours: the colours come round again with a marker
 * shape each round, so no two runs look alike; one run alone keeps a
 * colour per metric (run's curves.svg). */
START_TEST(more_runs_than_colours_stay_apart)
{
    enum { RUNS = 24 };
    double y[RUNS][3];
    char name_text[RUNS][16];
    const char *names[RUNS];
    struct curve c[RUNS];
    for (int r = 0; r < RUNS; r++) {
        for (int i = 0; i < 3; i++)
            y[r][i] = 1.0 / (1 + r + i);
        snprintf(name_text[r], sizeof name_text[r], "lr=%d", r);
        names[r] = name_text[r];
        c[r] = (struct curve){.run = r, .metric = "test_acc", .y = y[r], .n = 3};
    }
    char *svg = draw_runs("many", names, c, RUNS, Y_SCALE_AUTO);
    char looks[RUNS][LOOK];
    ck_assert_int_eq(line_looks(svg, looks, RUNS), RUNS);
    for (int a = 0; a < RUNS; a++)
        for (int b = 0; b < a; b++)
            ck_assert_msg(strcmp(looks[a], looks[b]), "runs %d and %d look alike: %s", b, a, looks[a]);
    char first[COLOR], eleventh[COLOR];
    ck_assert_str_eq(line_color(svg, 10, eleventh), line_color(svg, 0, first)); /* the palette came round */
    ck_assert_ptr_nonnull(strstr(looks[3], "8 3 2 3")); /* test accuracy dash-dotted */
    free(svg);
    struct curve one[2] = {{.metric = "loss", .y = y[0], .n = 3}, {.metric = "train_acc", .y = y[1], .n = 3}};
    svg = draw("one", one, 2, Y_SCALE_LINEAR);
    ck_assert_int_eq(line_looks(svg, looks, RUNS), 2);
    ck_assert_str_ne(line_color(svg, 0, first), line_color(svg, 1, eleventh)); /* one run: a colour per metric */
    ck_assert_ptr_nonnull(strstr(looks[1], "stroke-dasharray=\"2 3\"")); /* train accuracy dotted */
    free(svg);
}
END_TEST

/* Two metrics that would take one line style in one panel (Kaggle's loss
 * and train_log_rmse on one log axis) are drawn in two. */
START_TEST(metrics_in_one_panel_never_share_a_style)
{
    double loss[3] = {1, 0.5, 0.3}, rmse[3] = {0.9, 0.4, 0.2}, valid[3] = {1, 0.6, 0.4};
    const char *names[2] = {"a", "b"};
    struct curve c[3] = {{.metric = "loss", .y = loss, .n = 3},
                         {.metric = "train_log_rmse", .y = rmse, .n = 3},
                         {.metric = "valid_log_rmse", .y = valid, .n = 3}};
    char *svg = draw_runs("k", names, c, 3, Y_SCALE_LOG);
    char looks[4][LOOK];
    ck_assert_int_eq(count(svg, "stroke=\"#444\""), 1); /* one panel */
    ck_assert_int_eq(line_looks(svg, looks, 4), 3);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < a; b++)
            ck_assert_msg(strcmp(looks[a], looks[b]), "%s and %s look alike: %s", c[b].metric, c[a].metric, looks[a]);
    ck_assert_ptr_null(strstr(looks[0], "dasharray"));
    ck_assert_ptr_nonnull(strstr(looks[2], "\"6 3\"")); /* validation: dashed */
    free(svg);
}
END_TEST

/* A seed group's spread: a band around its mean line, in its colour, and
 * inside the axis (a band's bottom below 0 on a log axis sits at the axis'
 * bottom). */
START_TEST(a_band_shows_the_spread)
{
    double mean[3] = {1, 0.1, 0.01}, lo[3] = {0.5, -0.1, 0.005}, hi[3] = {1.5, 0.3, 0.015};
    const char *names[1] = {"l2=3 (3 seeds)"};
    struct curve c = {.metric = "loss", .y = mean, .lo = lo, .hi = hi, .n = 3};
    for (int log = 0; log < 2; log++) {
        char *svg = draw_runs("band", names, &c, 1, log ? Y_SCALE_LOG : Y_SCALE_LINEAR);
        char want[64];
        char color[COLOR];
        snprintf(want, sizeof want, "<path fill=\"%s\" fill-opacity=\"0.2\"", line_color(svg, 0, color));
        ck_assert_msg(count(svg, want) == 1, "no band %s", want);
        ck_assert_msg(strstr(svg, log ? ">0.001<" : ">-0.5<"), "the axis holds the band (%s)", log ? "log" : "linear");
        tmp_dir_make("plots");
        check_chart(save("band.svg", svg));
        tmp_dir_remove();
        free(svg);
    }
}
END_TEST

static struct proc_result run_fmt(const char *fmt, va_list ap)
{
    char args[2048];
    ck_assert_int_lt(vsnprintf(args, sizeof args, fmt, ap), (int)sizeof args);
    return run_d2ltrain(args);
}

static void run_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct proc_result r = run_fmt(fmt, ap);
    va_end(ap);
    ck_assert_msg(r.status == 0, "d2ltrain %s: exit %d: %s", fmt, r.status, r.err);
    proc_result_free(&r);
}

/* exit status `status` and `message` in stderr */
static void run_fails(int status, const char *message, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct proc_result r = run_fmt(fmt, ap);
    va_end(ap);
    ck_assert_msg(r.status == status && strstr(r.err, message), "d2ltrain %s: exit %d (want %d), stderr: %s", fmt,
                  r.status, status, r.err);
    proc_result_free(&r);
}

static bool has_file(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The commands' SVGs: run's curves, plot overlaying two runs, kfold's
 * fold 1, a sweep's seed groups with their bands, show's samples and
 * predict's images; each checked, then all
 * drawn by Chromium in one launch (skipped, saying so, without it). */
START_TEST(every_svg_kind_renders)
{
    tmp_dir_make("plots");
    const char *data = "--quiet --data-dir build/test-data";
    run_ok("run configs/weight_decay.yaml --set train.epochs=20 --set penalty.l2=0 --out %s %s", tmp_path("wd0"),
           data);
    run_ok("run configs/weight_decay.yaml --set train.epochs=20 --set penalty.l2=3 --out %s %s", tmp_path("wd3"),
           data);
    run_ok("plot %s %s -o %s", tmp_path("wd0"), tmp_path("wd3/"), tmp_path("wd.svg"));
    char args[1024];
    snprintf(args, sizeof args, "kfold configs/linreg.yaml --set kfold.k=2 --set kfold.metric=loss --verbose --quiet --out %s",
             tmp_path("kf"));
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0 && strstr(r.out, "fold 1 epoch 1/3 loss ") && strstr(r.out, "fold 2 epoch 3/3 "),
                  "kfold --verbose: %d %s%s", r.status, r.out, r.err);
    proc_result_free(&r);
    char files[4096], *wd = test_read_text(tmp_path("wd.svg"));
    /* a colour per run: both of wd0's lines in one, wd3's in another; the legend names each run once */
    ck_assert_msg(count(wd, ">wd0<") == 1 && count(wd, ">wd3<") == 1 && count(wd, ">test_loss<") == 1,
                  "the legend names the runs, then the metrics: %s", tmp_path("wd.svg"));
    char wd0[COLOR], wd0_test[COLOR], wd3[COLOR];
    line_color(wd, 0, wd0), line_color(wd, 1, wd0_test), line_color(wd, 2, wd3);
    ck_assert_msg(*wd0 && !strcmp(wd0_test, wd0) && strcmp(wd3, wd0), "colours %s %s %s: %s", wd0, wd0_test, wd3,
                  tmp_path("wd.svg"));
    free(wd);
    /* a sweep over seeds: a line per group, its mean, with a band of ± std */
    run_ok("sweep configs/weight_decay.yaml --set train.epochs=20 --grid penalty.l2=0,3 --grid seed=1,2 --quiet "
           "--out %s",
           tmp_path("sw"));
    char *sw = test_read_text(tmp_path("sw/sweep.svg"));
    ck_assert_msg(count(sw, ">l2=3 (2 seeds)<") == 1 && count(sw, ">l2=0 (2 seeds)<") == 1,
                  "a legend entry per seed group: %s", tmp_path("sw/sweep.svg"));
    ck_assert_int_eq(count(sw, "fill-opacity=\"0.2\""), 4); /* 2 groups, loss and test_loss */
    char best[COLOR], second[COLOR];
    ck_assert_str_ne(line_color(sw, 0, best), "");
    ck_assert_str_ne(best, line_color(sw, 2, second));
    free(sw);
    run_ok("plot %s --linear-y -o %s", tmp_path("kf"), tmp_path("kfplot.svg")); /* its fold 1 */
    int at = snprintf(files, sizeof files, "chart:%s chart:%s chart:%s chart:%s", tmp_path("wd0/curves.svg"),
                      tmp_path("wd.svg"), tmp_path("kf/curves.svg"), tmp_path("kfplot.svg"));
    at += snprintf(files + at, sizeof files - (size_t)at, " chart:%s", tmp_path("sw/sweep.svg"));
    if (has_file(FASHION_DIR "/train-images-idx3-ubyte.gz")) {
        run_ok("show fashion_mnist -n 18 -o %s %s", tmp_path("samples.svg"), data);
        run_ok("run configs/softmax_fashion.yaml --set train.epochs=1 --out %s %s", tmp_path("sm"), data);
        run_ok("predict configs/softmax_fashion.yaml --checkpoint %s/model.safetensors --images 18 -o %s %s",
               tmp_path("sm"), tmp_path("preds.svg"), data);
        snprintf(files + at, sizeof files - (size_t)at, " images:%s images:%s", tmp_path("samples.svg"),
                 tmp_path("preds.svg"));
    } else
        fprintf(stderr, "SKIP: %s is missing: no image grids drawn\n", FASHION_DIR);
    check_svg(files);
    r = run_shell("command -v chromium");
    bool chromium = r.status == 0;
    proc_result_free(&r);
    if (!chromium)
        fprintf(stderr, "SKIP: chromium is missing (apt-get install chromium): the SVGs were not drawn\n");
    else {
        char render[4400];
        snprintf(render, sizeof render, "--render build/test-plots.png %s", files);
        check_svg(render);
        fprintf(stderr, "plots: Chromium's picture of every SVG kind is build/test-plots.png\n");
    }
    tmp_dir_remove();
}
END_TEST

/* plot a/wd0 b/wd0: runs whose directories share a name are named by
 * their paths in the legend; the same path twice, by its place as well. */
START_TEST(runs_named_alike_are_told_apart)
{
    tmp_dir_make("plots");
    const char *metrics = "{\"epoch\":1,\"loss\":0.9}\n{\"epoch\":2,\"loss\":0.5}\n";
    static const char *const dirs[] = {"a", "b", "a/wd0", "b/wd0", "c"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        ck_assert_int_eq(mkdir(tmp_path(dirs[i]), 0755), 0);
    tmp_write("a/wd0/metrics.jsonl", metrics, strlen(metrics));
    tmp_write("b/wd0/metrics.jsonl", metrics, strlen(metrics));
    tmp_write("c/metrics.jsonl", metrics, strlen(metrics));
    run_ok("plot %s %s/ %s -o %s", tmp_path("a/wd0"), tmp_path("b/wd0"), tmp_path("c"), tmp_path("ab.svg"));
    char *svg = test_read_text(tmp_path("ab.svg"));
    ck_assert_msg(count(svg, "/a/wd0<") == 1 && count(svg, "/b/wd0<") == 1 && count(svg, ">c<") == 1,
                  "a legend entry per run, wd0s by their paths, c by its name: %s", tmp_path("ab.svg"));
    free(svg);
    run_ok("plot %s %s -o %s", tmp_path("a/wd0"), tmp_path("a/wd0"), tmp_path("aa.svg"));
    svg = test_read_text(tmp_path("aa.svg"));
    ck_assert_msg(count(svg, "/a/wd0<") == 1 && count(svg, "/a/wd0 (#2)<") == 1, "the same run twice: %s",
                  tmp_path("aa.svg"));
    free(svg);
    tmp_dir_remove();
}
END_TEST

START_TEST(bad_input_is_refused_clearly)
{
    tmp_dir_make("plots");
    run_ok("run configs/linreg.yaml --quiet --out %s", tmp_path("lin"));
    run_ok("run configs/poly_fit.yaml --quiet --set train.epochs=2 --out %s", tmp_path("poly"));
    run_fails(3, "no-such-run: no such run directory", "plot %s -o %s", tmp_path("no-such-run"), tmp_path("x.svg"));
    const char *bad = "{\"epoch\":1,\"loss\":0.5}\n{\"epoch\":2,\"loss\":\n";
    tmp_write("bad.jsonl", bad, strlen(bad));
    run_fails(3, "bad.jsonl:2: not a JSON object", "plot %s -o %s", tmp_path("bad.jsonl"), tmp_path("x.svg"));
    const char *word = "{\"epoch\":1,\"loss\":\"low\"}\n";
    tmp_write("word.jsonl", word, strlen(word));
    run_fails(3, "word.jsonl:1: \"loss\" is not a number", "plot %s -o %s", tmp_path("word.jsonl"),
              tmp_path("x.svg"));
    ck_assert(!has_file(tmp_path("x.svg")));
    run_fails(2, "plot needs -o FILE.svg", "plot %s", tmp_path("lin"));
    struct proc_result help = run_d2ltrain("plot --help");
    ck_assert_msg(help.status == 0 && strstr(help.out, "usage: d2ltrain plot RUN_DIR..."), "plot --help: %s",
                  help.out);
    proc_result_free(&help);
    run_fails(2, "--metric test_acc: no run has it", "plot %s --metric test_acc -o %s", tmp_path("lin"),
              tmp_path("x.svg"));
    run_fails(2, "exclude each other", "plot %s --log-y --linear-y -o %s", tmp_path("lin"), tmp_path("x.svg"));
    run_fails(2, "kaggle_house: not an image dataset", "show kaggle_house -o %s", tmp_path("x.svg"));
    run_fails(2, "synthetic_poly: not a labelled image dataset",
              "predict configs/poly_fit.yaml --quiet --set train.epochs=2 --checkpoint %s/model.safetensors --images 4 "
              "-o %s",
              tmp_path("poly"), tmp_path("x.svg"));
    run_fails(2, "--images N and -o FILE.svg go together",
              "predict configs/linreg.yaml --checkpoint %s/model.safetensors --images 4", tmp_path("lin"));
    run_fails(2, "--images belongs to predict", "run configs/linreg.yaml --images 4 -o %s", tmp_path("x.svg"));
    ck_assert(!has_file(tmp_path("x.svg")));
    /* -o replaces a planted link, never writing through it */
    ck_assert_int_eq(symlink(tmp_path("target"), tmp_path("link.svg")), 0);
    run_ok("plot %s -o %s", tmp_path("lin"), tmp_path("link.svg"));
    ck_assert(!has_file(tmp_path("target")));
    check_chart(tmp_path("link.svg"));
    tmp_dir_remove();
}
END_TEST

Suite *suite_plots(void)
{
    Suite *s = suite_create("plots");
    TCase *tc = tcase_create("plots");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, regression_loss_gets_a_log_axis);
    tcase_add_test(tc, panels_split_when_scales_differ);
    tcase_add_test(tc, epoch_ticks_are_integers);
    tcase_add_test(tc, every_string_is_escaped);
    tcase_add_test(tc, each_run_has_a_colour_of_its_own);
    tcase_add_test(tc, more_runs_than_colours_stay_apart);
    tcase_add_test(tc, metrics_in_one_panel_never_share_a_style);
    tcase_add_test(tc, a_band_shows_the_spread);
    tcase_add_test(tc, every_svg_kind_renders);
    tcase_add_test(tc, runs_named_alike_are_told_apart);
    tcase_add_test(tc, bad_input_is_refused_clearly);
    suite_add_tcase(s, tc);
    return s;
}
