/* End to end through the binary: linear regression (d2l 3.2), the command
 * line, exit codes and the --out files. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/spec.h"
#include "proc.h"

/* The numbers after `label` on the line that starts with it. */
static int numbers_after(const char *out, const char *label, double *v, int max)
{
    const char *line = strstr(out, label);
    if (!line)
        return 0;
    const char *p = line + strlen(label);
    int n = 0;
    while (n < max) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || *p == '\n')
            break;
        v[n++] = x;
        p = end;
    }
    return n;
}

START_TEST(linreg_recovers_the_true_parameters)
{
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    double w_err[2], b_err[1], loss[1];
    ck_assert_int_eq(numbers_after(r.out, "error in estimating w:", w_err, 2), 2);
    ck_assert_int_eq(numbers_after(r.out, "error in estimating b:", b_err, 1), 1);
    ck_assert_msg(fabs(w_err[0]) < 0.01 && fabs(w_err[1]) < 0.01, "w error %g %g", w_err[0], w_err[1]);
    ck_assert_msg(fabs(b_err[0]) < 0.01, "b error %g", b_err[0]);
    /* d2l: the loss is at the noise floor (0.01^2 / 2) after 3 epochs */
    ck_assert_int_eq(numbers_after(r.out, "epoch 3/3 loss", loss, 1), 1);
    ck_assert_msg(loss[0] < 1e-3, "final loss %g", loss[0]);
    proc_result_free(&r);
}
END_TEST

START_TEST(same_seed_gives_identical_epochs)
{
    struct proc_result a = run_d2ltrain("run configs/linreg.yaml");
    struct proc_result b = run_d2ltrain("run configs/linreg.yaml");
    struct proc_result c = run_d2ltrain("run configs/linreg.yaml --set seed=7");
    ck_assert_int_eq(a.status, 0);
    char *la = epoch_lines_without_time(a.out), *lb = epoch_lines_without_time(b.out),
         *lc = epoch_lines_without_time(c.out);
    ck_assert_int_gt(strlen(la), 0);
    ck_assert_str_eq(la, lb);
    ck_assert_str_ne(la, lc);
    free(la), free(lb), free(lc);
    proc_result_free(&a), proc_result_free(&b), proc_result_free(&c);
}
END_TEST

START_TEST(set_overrides_take_effect)
{
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml --set optimizer.sgd.lr=0.3 --set train.epochs=5");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 5/5 "));
    ck_assert_ptr_null(strstr(r.out, "epoch 6/"));
    proc_result_free(&r);
}
END_TEST

/* Epoch times in tenths of a millisecond: a GPU epoch takes ~15 ms, so whole
 * milliseconds would hide a 7% change. */
START_TEST(epoch_time_has_tenths_of_a_millisecond)
{
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml --set train.epochs=1");
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *t = strstr(r.out, " time ");
    ck_assert_ptr_nonnull(t);
    t += strlen(" time ");
    size_t whole = strspn(t, "0123456789");
    ck_assert_int_gt(whole, 0);
    ck_assert_int_eq(t[whole], '.');
    size_t fraction = strspn(t + whole + 1, "0123456789");
    ck_assert_msg(fraction == 4 && t[whole + 1 + fraction] == 's', "epoch time %.12s", t);
    proc_result_free(&r);
}
END_TEST

/* --timing: the phases are measured, add up, and stay off stdout. */
START_TEST(timing_reports_the_phases)
{
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml --timing --device cpu");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_null(strstr(r.out, "timing:"));
    const char *line = strstr(r.err, "timing: data ");
    ck_assert_msg(line, "%s", r.err);
    double data, device, train, total;
    ck_assert_int_eq(sscanf(line, "timing: data %lf s and device %lf s side by side, training %lf s; %lf s", &data,
                            &device, &train, &total),
                     4);
    ck_assert(data >= 0 && device >= 0 && train >= 0 && total > 0);
    ck_assert(total + 0.001 >= train && total + 0.001 >= data); /* printed to the millisecond */
    /* the last epoch: its training steps and its evaluation add up to it */
    line = strstr(r.err, "timing: last epoch ");
    ck_assert_msg(line, "%s", r.err);
    double epoch_ms, steps_ms, eval_ms;
    ck_assert_int_eq(sscanf(line, "timing: last epoch %lf ms: training steps %lf ms, evaluation %lf ms", &epoch_ms,
                            &steps_ms, &eval_ms),
                     3);
    ck_assert(steps_ms > 0 && eval_ms >= 0 && epoch_ms <= train * 1e3 + 1);
    ck_assert_double_eq_tol(steps_ms + eval_ms, epoch_ms, 0.02); /* printed to 0.01 ms */
    proc_result_free(&r);
}
END_TEST

START_TEST(divergence_names_epoch_and_step)
{
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml --set optimizer.sgd.lr=100");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "at epoch 1, step "), "%s", r.err);
    ck_assert_msg(strstr(r.err, "smaller learning rate"), "%s", r.err);
    ck_assert_msg(strstr(r.err, "--set optimizer.sgd.lr="), "%s", r.err);
    proc_result_free(&r);
}
END_TEST

START_TEST(exit_codes)
{
    static const struct {
        const char *args;
        int status;
        const char *needle;
    } cases[] = {
        {"", 2, "usage"},
        {"frobnicate", 2, "unknown command"},
        {"run", 2, "missing the spec"},
        {"run configs/linreg.yaml --bogus", 2, "unknown option"},
        {"run tests/specs/bad/unknown_key.yaml", 2, "unknown_key.yaml:"},
        {"run configs/linreg.yaml --set optimizer.sgd.lr=-1", 2, "optimizer.sgd.lr"},
        {"run configs/linreg.yaml --device tpu", 2, "device"},
        {"run configs/linreg.yaml --checkpoint m.safetensors", 2, "--checkpoint belongs to predict"},
        {"predict configs/linreg.yaml", 2, "predict needs --checkpoint"},
        {"predict configs/linreg.yaml --checkpoint m.safetensors", 2, "the data has no test set to predict on"},
        {"predict configs/poly_fit.yaml --checkpoint /nonexistent/m.safetensors", 3, "m.safetensors: cannot open"},
        {"--version", 0, ""},
        {"run --help", 0, ""},
        {"predict --help", 0, "--checkpoint FILE"},
        {"--help", 0, "predict"},
        /* Every command parses its options alike (cmd/args.c). */
        {"run --bogus", 2, "unknown option '--bogus'"},
        {"kfold -h", 0, "usage: d2ltrain kfold"},
        {"predict --checkpoint=", 2, "--checkpoint needs a value, got an empty one"},
        {"fetch --help", 0, "usage: d2ltrain fetch"},
        {"fetch --bogus kaggle_house", 2, "unknown option '--bogus'"},
        {"fetch --retries=x kaggle_house", 2, "--retries 'x': expected a whole number"},
        {"fetch kaggle_house --data-dir", 2, "--data-dir needs a value"},
        {"fetch --mirror-only=1 kaggle_house", 2, "--mirror-only takes no value"},
        {"fetch -- --all", 2, "unknown dataset '--all'"},
        {"list --help", 0, "usage: d2ltrain list"},
        {"list --data-dir=", 2, "--data-dir needs a value, got an empty one"},
        {"list --bogus", 2, "unknown option '--bogus'"},
        {"info -h", 0, "usage: d2ltrain info"},
        {"info --bogus", 2, "unknown option '--bogus'"},
        {"info extra", 2, "info takes no arguments, got 'extra'"},
        {"inspect --help", 0, "usage: d2ltrain inspect"},
        {"inspect --full=yes x.safetensors", 2, "--full takes no value"},
        {"inspect -- --full", 3, "--full: cannot open"},
        {"sweep --help", 0, "usage: d2ltrain sweep"},
        {"sweep", 2, "missing the spec"},
        {"sweep configs/linreg.yaml", 2, "a sweep needs --grid KEY=V1,V2,... or --points FILE.yaml"},
        {"sweep configs/linreg.yaml --grid optimizer.sgd.lr", 2, "--grid optimizer.sgd.lr: expected KEY=V1,V2"},
        {"sweep configs/linreg.yaml --grid =1,2", 2, "--grid =1,2: expected KEY=V1,V2"},
        {"sweep configs/linreg.yaml --grid seed=1,2 --grid seed=3", 2, "seed is set by another --grid"},
        {"sweep configs/linreg.yaml --grid 'data.w=[1,2]],[3]'", 2, "a bracket is closed that was not opened"},
        {"sweep configs/linreg.yaml --points /nonexistent/p.yaml", 2, "p.yaml"},
        {"sweep configs/linreg.yaml --grid seed=1 --freeze '0.*'", 2, "--freeze belongs to run"},
        {"run configs/linreg.yaml --grid seed=1,2", 2, "--grid belongs to sweep"},
        {"kfold configs/linreg.yaml --rank-by loss", 2, "--rank-by belongs to sweep"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proc_result r = run_d2ltrain(cases[i].args);
        ck_assert_msg(r.status == cases[i].status, "'%s': exit %d, want %d (%s)", cases[i].args, r.status,
                      cases[i].status, r.err);
        ck_assert_msg(strstr(r.out, cases[i].needle) || strstr(r.err, cases[i].needle), "'%s': no '%s' in %s%s",
                      cases[i].args, cases[i].needle, r.out, r.err);
        proc_result_free(&r);
    }
}
END_TEST

START_TEST(cuda_without_gpu_is_a_runtime_error)
{
    struct proc_result info = run_d2ltrain("info");
    ck_assert_int_eq(info.status, 0);
    bool has_gpu = strstr(info.out, "compute capability") != NULL;
    proc_result_free(&info);
    if (has_gpu)
        return; /* the GPU checks (scripts/gpu-check.sh) cover this machine */
    struct proc_result r = run_d2ltrain("run configs/linreg.yaml --device cuda");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "cuda"), "%s", r.err);
    proc_result_free(&r);
    r = run_d2ltrain("run configs/linreg.yaml --device auto");
    ck_assert_int_eq(r.status, 0); /* auto falls back to the CPU */
    proc_result_free(&r);
}
END_TEST

START_TEST(out_dir_holds_complete_files)
{
    char dir[] = "/tmp/d2l-out-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char args[256];
    snprintf(args, sizeof args, "run configs/linreg.yaml --out %s/run", dir);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    proc_result_free(&r);

    char path[512];
    snprintf(path, sizeof path, "%s/run/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(o != NULL, "bad JSON: %s", line);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "epoch")), ++lines);
        ck_assert(json_is_real(json_object_get(o, "loss")));
        json_decref(o);
    }
    fclose(f);
    ck_assert_int_eq(lines, 3);

    /* the effective spec reads back to the same experiment */
    struct spec original, written;
    struct err e = {0};
    snprintf(path, sizeof path, "%s/run/config.yaml", dir);
    ck_assert_int_eq(spec_load(&original, "configs/linreg.yaml", NULL, 0, &e), 0);
    ck_assert_msg(spec_load(&written, path, NULL, 0, &e) == 0, "%s", e.msg);
    ck_assert_double_eq(written.optim.lr, original.optim.lr);
    ck_assert_int_eq(written.epochs, original.epochs);
    ck_assert_int_eq(written.n_layers, original.n_layers);

    /* safetensors: 8-byte little-endian header size, JSON header, 3 floats */
    snprintf(path, sizeof path, "%s/run/model.safetensors", dir);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char size_le[8];
    ck_assert_int_eq(fread(size_le, 1, 8, f), 8);
    size_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | size_le[i];
    char *text = calloc(1, header + 1);
    ck_assert_int_eq(fread(text, 1, header, f), header);
    json_error_t je;
    json_t *h = json_loads(text, 0, &je);
    ck_assert_msg(h != NULL, "%s", text);
    json_t *w = json_object_get(h, "0.weight");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(w, "shape"), 1)), 2);
    float params[4];
    ck_assert_int_eq(fread(params, sizeof(float), 4, f), 3); /* w1, w2, b, then EOF */
    ck_assert(fabsf(params[0] - 2.0f) < 0.01f && fabsf(params[2] - 4.2f) < 0.01f);
    json_decref(h);
    free(text);
    fclose(f);

    /* curves.svg: one line for the loss, ending with the svg */
    snprintf(path, sizeof path, "%s/run/curves.svg", dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char svg[4096] = {0};
    ck_assert_uint_gt(fread(svg, 1, sizeof svg - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(svg, "<path fill=\"none\""));
    ck_assert_ptr_nonnull(strstr(svg, ">loss</text>"));
    ck_assert_ptr_nonnull(strstr(svg, "</svg>\n"));

    char command[600];
    snprintf(command, sizeof command, "ls %s/run | grep -c tmp; rm -rf %s", dir, dir);
    r = run_shell(command);
    ck_assert_str_eq(r.out, "0\n"); /* no half-written file left behind */
    proc_result_free(&r);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("linreg");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linreg_recovers_the_true_parameters);
    tcase_add_test(tc, same_seed_gives_identical_epochs);
    tcase_add_test(tc, set_overrides_take_effect);
    tcase_add_test(tc, epoch_time_has_tenths_of_a_millisecond);
    tcase_add_test(tc, timing_reports_the_phases);
    tcase_add_test(tc, divergence_names_epoch_and_step);
    tcase_add_test(tc, exit_codes);
    tcase_add_test(tc, cuda_without_gpu_is_a_runtime_error);
    tcase_add_test(tc, out_dir_holds_complete_files);
    suite_add_tcase(s, tc);
    return s;
}
