/* Chapter 5 end to end: the module tree and parameter names match what
 * PyTorch prints for the same nn.Sequential (tests/fixtures, made with
 * tests/fixtures/make_torch_fixtures.py), a PyTorch checkpoint loads,
 * checkpoints round-trip through --init-from, frozen tensors stay
 * bit-identical while the rest train, and inspect lists every tensor. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/model.h"
#include "../core/safetensors.h"
#include "testutil.h"
#include "proc.h"
#include "tmpdir.h"

/* A file of the repository, by its path from the root. */
static char *repo_text(const char *path)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", repo_root(), path);
    return test_read_text(full);
}

/* The part of text before the first line starting with `stop`. */
static char *before_line(const char *text, const char *stop)
{
    char *copy = strdup(text);
    for (char *line = copy; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, stop, strlen(stop))) {
            *line = '\0';
            break;
        }
    return copy;
}

static struct proc_result run_ok(const char *fmt, const char *a, const char *b)
{
    char args[2048];
    snprintf(args, sizeof args, fmt, a, b);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
    return r;
}

/* print(net) and named_parameters() as PyTorch printed them, and the
 * state_dict's names as the tied aliases --print-model lists. */
static void check_against_torch(const char *name)
{
    char args[256], fixture[256];
    snprintf(args, sizeof args, "run configs/%s.yaml --device cpu --print-model", name);
    snprintf(fixture, sizeof fixture, "tests/fixtures/%s.txt", name);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_ptr_null(strstr(r.out, "epoch")); /* nothing trained */
    char *torch = repo_text(fixture);
    char *torch_tree = before_line(torch, "named_parameters:"), *our_tree = before_line(r.out, "0.");
    ck_assert_str_eq(our_tree, torch_tree);

    /* named_parameters: "NAME torch.Size([...])" starts each of our lines */
    const char *theirs = strstr(torch, "named_parameters:\n") + strlen("named_parameters:\n");
    const char *ours = r.out + strlen(our_tree);
    int n = 0;
    while (strncmp(theirs, "state_dict:", 11)) {
        size_t len = strcspn(theirs, "\n");
        ck_assert_msg(!strncmp(ours, theirs, len) && ours[len] == ' ', "ours '%.*s' torch '%.*s'",
                      (int)strcspn(ours, "\n"), ours, (int)len, theirs);
        theirs += len + 1;
        ours += strcspn(ours, "\n") + 1;
        n++;
    }
    ck_assert_int_gt(n, 10);
    size_t total, trainable; /* and no parameter more */
    ck_assert_msg(sscanf(ours, "%zu parameters, %zu trainable", &total, &trainable) == 2, "after the last: %s", ours);
    /* every state_dict name is a parameter's name or one of its tied aliases */
    for (const char *key = strstr(theirs, "\n") + 1; *key; key += strcspn(key, "\n") + 1) {
        char want[128];
        snprintf(want, sizeof want, "%.*s", (int)strcspn(key, "\n"), key);
        char as_name[160], as_alias[160], as_more[160];
        snprintf(as_name, sizeof as_name, "\n%s torch.Size", want);
        snprintf(as_alias, sizeof as_alias, "also %s\n", want);
        snprintf(as_more, sizeof as_more, ", %s\n", want);
        ck_assert_msg(strstr(r.out, as_name) || strstr(r.out, as_alias) || strstr(r.out, as_more),
                      "state_dict name '%s' missing", want);
    }
    free(our_tree);
    free(torch_tree);
    free(torch);
    proc_result_free(&r);
}

START_TEST(print_model_matches_pytorch)
{
    check_against_torch("rgnet");
    check_against_torch("blocks_ch5");
    struct proc_result r = run_ok("run configs/blocks_ch5.yaml --device cpu --print-model --freeze %s%s", "'0.0.*'", "");
    ck_assert_ptr_nonnull(strstr(r.out, "\n3.weight torch.Size([8, 8]) 64 tied: also 5.weight\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n7.weight torch.Size([20, 8]) 160 frozen\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n0.0.2.bias torch.Size([4]) 4 frozen\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n0.1.2.bias torch.Size([4]) 4\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n617 parameters, 361 trainable\n"));
    proc_result_free(&r);
    /* a tied tensor is frozen by any of its names */
    r = run_ok("run configs/blocks_ch5.yaml --device cpu --print-model --freeze %s%s", "5.weight", "");
    ck_assert_ptr_nonnull(strstr(r.out, "\n3.weight torch.Size([8, 8]) 64 tied: also 5.weight frozen\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "\n3.bias torch.Size([8]) 8 tied: also 5.bias\n"));
    proc_result_free(&r);
    r = run_d2ltrain("run configs/blocks_ch5.yaml --device cpu --print-model --freeze 'nothing.*'");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--freeze 'nothing.*' matches no parameter name"));
    proc_result_free(&r);
    r = run_d2ltrain("kfold configs/blocks_ch5.yaml --print-model");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--print-model belongs to run"));
    proc_result_free(&r);
}
END_TEST

/* A state_dict() saved by PyTorch (every tied name listed) loads; inspect
 * shows PyTorch's values (the sums the fixture script printed). */
START_TEST(pytorch_checkpoint_loads)
{
    struct proc_result r = run_ok("run configs/blocks_ch5.yaml --device cpu --init-from %s%s",
                                  "tests/fixtures/blocks_ch5.safetensors", "");
    ck_assert_ptr_nonnull(strstr(r.out, "epoch 3/3"));
    proc_result_free(&r);
    r = run_ok("inspect %s%s", "tests/fixtures/blocks_ch5.safetensors", "");
    char *sums = repo_text("tests/fixtures/blocks_ch5.sums.txt"), *out = malloc(strlen(r.out) + 2);
    sprintf(out, "\n%s", r.out);
    int n = 0;
    for (const char *line = sums; *line; line += strcspn(line, "\n") + 1, n++) {
        char name[128];
        double want;
        ck_assert_int_eq(sscanf(line, "%127s %lf", name, &want), 2);
        char prefix[160];
        snprintf(prefix, sizeof prefix, "\n%s F32 ", name);
        const char *at = strstr(out, prefix);
        ck_assert_msg(at != NULL, "inspect lacks %s", name);
        const char *shape = strstr(at + 1, " [") + 1;
        double rows = atof(shape + 1), cols = strchr(shape, ',') && strchr(shape, ',') < strchr(shape, ']')
                                                  ? atof(strchr(shape, ',') + 1) : 1;
        double mean = atof(strstr(at, " mean ") + 6);
        ck_assert_msg(fabs(mean * rows * cols - want) < 1e-4 * (1 + fabs(want)), "%s: sum %g want %g", name,
                      mean * rows * cols, want);
    }
    ck_assert_int_eq(n, 26); /* 24 tensors, two of them (the tied 3.*) again as 5.* */
    ck_assert_ptr_nonnull(strstr(r.out, "\n26 tensors, 689 values\n"));
    free(sums);
    free(out);
    proc_result_free(&r);
}
END_TEST

/* The bytes of a tensor in a checkpoint. */
static void tensor_of(const char *path, const char *name, float **data, size_t *count)
{
    struct st_file f;
    struct err e = {0};
    ck_assert_msg(safetensors_load(&f, path, &e) == 0, "%s", e.msg);
    const struct st_tensor *t = safetensors_find(&f, name);
    ck_assert_msg(t != NULL, "%s lacks %s", path, name);
    *count = t->count;
    *data = malloc(t->count * sizeof **data);
    memcpy(*data, t->data, t->count * sizeof **data);
    safetensors_free(&f);
}

static bool same_tensor(const char *a, const char *b, const char *name)
{
    float *x, *y;
    size_t n, m;
    tensor_of(a, name, &x, &n);
    tensor_of(b, name, &y, &m);
    bool same = n == m && !memcmp(x, y, n * sizeof *x);
    free(x);
    free(y);
    return same;
}

/* run --out, then --init-from that checkpoint with everything frozen: the
 * first epoch evaluates the saved model (the last test loss again) and the
 * checkpoint written is the same bytes. --freeze '0.*' and trainable: false
 * keep their tensors bit-identical while the rest train. */
START_TEST(init_from_round_trip_and_frozen_tensors)
{
    tmp_dir_make("blocks");
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s", tmp_path("a"));
    snprintf(b, sizeof b, "%s", tmp_path("b"));
    snprintf(c, sizeof c, "%s", tmp_path("c"));
    struct proc_result r1 = run_ok("run configs/blocks_ch5.yaml --device cpu --out %s%s", a, "");
    char ck_a[600], ck_b[600], ck_c[600];
    snprintf(ck_a, sizeof ck_a, "%s/model.safetensors", a);
    snprintf(ck_b, sizeof ck_b, "%s/model.safetensors", b);
    snprintf(ck_c, sizeof ck_c, "%s/model.safetensors", c);
    char args[1400];
    snprintf(args, sizeof args, "run configs/blocks_ch5.yaml --device cpu --init-from %s --freeze '*' --out %s", ck_a,
             b);
    struct proc_result r2 = run_d2ltrain(args);
    ck_assert_msg(r2.status == 0, "%s", r2.err);
    const char *last = strstr(r1.out, "epoch 3/3"), *first = strstr(r2.out, "epoch 1/3");
    ck_assert(last && first);
    char want[64], got[64];
    ck_assert_int_eq(sscanf(strstr(last, "test_loss"), "test_loss %63s", want), 1);
    ck_assert_int_eq(sscanf(strstr(first, "test_loss"), "test_loss %63s", got), 1);
    ck_assert_str_eq(got, want);
    snprintf(args, sizeof args, "cmp %s %s", ck_a, ck_b);
    struct proc_result same = run_shell(args);
    ck_assert_msg(same.status == 0, "the frozen model's checkpoint differs: %s", same.out);

    /* fine-tuning with the first block frozen */
    snprintf(args, sizeof args, "run configs/blocks_ch5.yaml --device cpu --init-from %s --freeze '0.*' --out %s", ck_a,
             c);
    struct proc_result r3 = run_d2ltrain(args);
    ck_assert_msg(r3.status == 0, "%s", r3.err);
    static const char *const fixed[] = {"0.0.0.weight", "0.1.2.bias", "0.3.2.weight", "7.weight", "7.bias"};
    static const char *const moved[] = {"1.weight", "3.weight", "3.bias", "9.weight", "9.bias"};
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(same_tensor(ck_a, ck_c, fixed[i]), "frozen %s changed", fixed[i]);
        ck_assert_msg(!same_tensor(ck_a, ck_c, moved[i]), "trainable %s did not move", moved[i]);
    }
    /* one name per tied tensor in our checkpoints */
    struct proc_result ins = run_ok("inspect %s%s", ck_c, "");
    ck_assert_ptr_nonnull(strstr(ins.out, "\n3.weight F32 [8,8] "));
    ck_assert_ptr_null(strstr(ins.out, "\n5.weight"));
    ck_assert_ptr_nonnull(strstr(ins.out, "\n24 tensors, 617 values\n"));
    proc_result_free(&ins);

    /* a checkpoint of another model: one line naming every difference */
    snprintf(args, sizeof args, "run configs/rgnet.yaml --device cpu --init-from %s", ck_a);
    struct proc_result bad = run_d2ltrain(args);
    ck_assert_int_eq(bad.status, 3);
    ck_assert_msg(strstr(bad.err, "does not fit the spec's model (another spec's checkpoint?): missing 0.block 0.0.weight,") &&
                      strstr(bad.err, "; extra 0.0.0.weight,") && strstr(bad.err, "; shape of 1.weight [8,4] (the model's [1,4])"),
                  "%s", bad.err);
    ck_assert_int_eq((int)strcspn(bad.err, "\n"), (int)strlen(bad.err) - 1);
    proc_result_free(&bad);
    /* inspect of a damaged file: exit 3, one line naming it */
    snprintf(args, sizeof args, "head -c 100 %s > %s/cut.safetensors", ck_a, c);
    struct proc_result cut = run_shell(args);
    ck_assert_int_eq(cut.status, 0);
    snprintf(args, sizeof args, "inspect %s/cut.safetensors", c);
    struct proc_result ins_cut = run_d2ltrain(args);
    ck_assert_int_eq(ins_cut.status, 3);
    ck_assert_msg(strstr(ins_cut.err, "cut.safetensors: not a safetensors file: header size ") &&
                      (int)strcspn(ins_cut.err, "\n") == (int)strlen(ins_cut.err) - 1 && !ins_cut.out[0],
                  "%s", ins_cut.err);
    proc_result_free(&cut);
    proc_result_free(&ins_cut);
    proc_result_free(&same);
    proc_result_free(&r1);
    proc_result_free(&r2);
    proc_result_free(&r3);
    tmp_dir_remove();
}
END_TEST

/* ---- plugin layers (examples/plugins/d2l_layers.c) ---- */

/* The plugin built next to the binary under test. */
static const char *plugin_path(void)
{
    static char path[1024];
    const char *bin = getenv("D2LTRAIN");
    ck_assert_msg(bin && strrchr(bin, '/'), "D2LTRAIN must name the binary under test");
    snprintf(path, sizeof path, "%.*s/plugins/d2l_layers.so", (int)(strrchr(bin, '/') - bin), bin);
    return path;
}

/* A spec on synthetic data with the given model lines. */
static const char *write_spec(const char *name, const char *model)
{
    char text[8192];
    snprintf(text, sizeof text,
             "name: plug\ndata: {dataset: synthetic_linear, w: [2, -3.4, 1.5, 0.5], b: 4.2, n_train: 500, "
             "n_test: 100, batch_size: 50}\nmodel:\n%s\ninit: {weight: torch_default, bias: torch_default}\n"
             "loss: mse\noptimizer: {sgd: {lr: 0.05}}\ntrain: {epochs: 4}\n", model);
    return tmp_write(name, text, strlen(text));
}

/* Every number after `key` on the epoch lines. */
static int epoch_values(const char *out, const char *key, double *v, int max)
{
    int n = 0;
    for (const char *p = out; n < max && (p = strstr(p, key)); p += strlen(key))
        v[n++] = atof(p + strlen(key));
    return n;
}

/* d2l's MyLinear (relu(x W^T + b)) and CenteredLayer as plugins train as
 * the built-in linear + relu and centered do: same init (the same
 * parameter offsets), same losses up to summation order. */
START_TEST(plugin_layers_match_the_built_in_ones)
{
    tmp_dir_make("plugin");
    char model[4096];
    snprintf(model, sizeof model,
             "  - plugin: {path: %s, name: my_linear, params: {units: 8}}\n"
             "  - plugin: {path: %s, name: centered}\n  - linear: {out: 1}", plugin_path(), plugin_path());
    char plug[512], builtin[512];
    snprintf(plug, sizeof plug, "%s", write_spec("plug.yaml", model));
    snprintf(builtin, sizeof builtin, "%s",
             write_spec("builtin.yaml", "  - linear: {out: 8}\n  - relu\n  - centered\n  - linear: {out: 1}"));
    struct proc_result a = run_ok("run %s --device cpu%s", plug, ""), b = run_ok("run %s --device cpu%s", builtin, "");
    double la[8], lb[8];
    ck_assert_int_eq(epoch_values(a.out, " test_loss ", la, 8), 4);
    ck_assert_int_eq(epoch_values(b.out, " test_loss ", lb, 8), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabs(la[i] - lb[i]) <= 1e-5 * fabs(lb[i]), "epoch %d: plugin %g, built-in %g", i + 1, la[i],
                      lb[i]);
    ck_assert(la[3] < la[0]); /* it trained */
    struct proc_result p = run_ok("run %s --device cpu --print-model%s", plug, "");
    ck_assert_ptr_nonnull(strstr(p.out, "  (0): my_linear()\n  (1): centered()\n"));
    ck_assert_ptr_nonnull(strstr(p.out, "\n0.weight torch.Size([8, 4]) 32\n0.bias torch.Size([8]) 8\n"));
    proc_result_free(&p);
    proc_result_free(&a);
    proc_result_free(&b);

    /* the effective spec keeps the plugin */
    char args[2048];
    snprintf(args, sizeof args, "run %s --device cpu --set train.epochs=1 --out %s", plug, tmp_path("out"));
    struct proc_result w = run_d2ltrain(args);
    ck_assert_msg(w.status == 0, "%s", w.err);
    snprintf(args, sizeof args, "run %s/config.yaml --device cpu --print-model", tmp_path("out"));
    struct proc_result again = run_d2ltrain(args);
    ck_assert_msg(again.status == 0 && strstr(again.out, "(0): my_linear()"), "%s", again.err);
    proc_result_free(&w);
    proc_result_free(&again);
    tmp_dir_remove();
}
END_TEST

/* The spec's error, exit 2, for a model line. */
static void assert_plugin_error(const char *model, const char *needle)
{
    const char *spec = write_spec("bad.yaml", model);
    char args[2048];
    snprintf(args, sizeof args, "run %s --device cpu", spec);
    struct proc_result r = run_d2ltrain(args);
    ck_assert_msg(r.status == 2 && strstr(r.err, needle) && !r.out[0], "exit %d: '%s' lacks '%s'", r.status, r.err,
                  needle);
    ck_assert_int_eq((int)strcspn(r.err, "\n"), (int)strlen(r.err) - 1);
    proc_result_free(&r);
}

START_TEST(plugin_errors_are_clear)
{
    tmp_dir_make("plugin");
    char model[4096];
    assert_plugin_error("  - plugin: {path: ./no_such.so, name: x}\n  - linear: {out: 1}",
                        "bad.yaml:4:13: model[0].plugin: cannot load the plugin: ./no_such.so: cannot open");
    assert_plugin_error("  - plugin: {path: libm.so.6, name: x}\n  - linear: {out: 1}",
                        "model[0].plugin: 'libm.so.6': write a path to the shared object");
    assert_plugin_error("  - plugin: {path: /lib/x86_64-linux-gnu/libm.so.6, name: x}\n  - linear: {out: 1}",
                        "libm.so.6 has no d2l_plugin_entry(): not a d2ltrain plugin");
    snprintf(model, sizeof model, "  - plugin: {path: %s, name: my_lineer}\n  - linear: {out: 1}", plugin_path());
    assert_plugin_error(model, "has no layer 'my_lineer'; it has 'centered', 'my_linear'");
    snprintf(model, sizeof model, "  - plugin: {path: %s, name: my_linear, params: {units: 0}}\n  - linear: {out: 1}",
             plugin_path());
    assert_plugin_error(model, "bad.yaml:4:5: model[0].plugin: params: my_linear takes exactly {units: N}");
    snprintf(model, sizeof model, "  - linear: {out: 8}\n  - plugin: {path: %s, name: my_linear, params: {units: 2}}",
             plugin_path());
    assert_plugin_error(model, "bad.yaml:5:5: model: the model's last plugin layer gives 2 outputs; it must give 1 "
                               "(the target width)");
    /* another ABI version */
    static const char other[] = "#include <d2ltrain/layer.h>\n"
                                "static const struct d2l_plugin p = {D2L_PLUGIN_ABI + 1, 0, 0};\n"
                                "const struct d2l_plugin *d2l_plugin_entry(void) { return &p; }\n";
    const char *src = tmp_write("abi.c", other, strlen(other));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -Iinclude -o %s %s", tmp_path("abi.so"), src);
    struct proc_result cc = run_shell(cmd);
    ck_assert_msg(cc.status == 0, "%s", cc.err);
    proc_result_free(&cc);
    snprintf(model, sizeof model, "  - plugin: {path: %s, name: x}\n  - linear: {out: 1}", tmp_path("abi.so"));
    assert_plugin_error(model, "is built for plugin ABI 2; this d2ltrain loads ABI 1");
    tmp_dir_remove();
}
END_TEST

/* A backend whose memory is not the host's refuses a plugin layer, naming it. */
START_TEST(plugin_layer_needs_host_memory)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "data: {dataset: synthetic_linear, w: [1, 2], n_train: 10}\nmodel:\n  - linear: {out: 3}\n"
             "  - plugin: {path: %s, name: centered}\n  - linear: {out: 1}\nloss: mse\n"
             "optimizer: {sgd: {lr: 0.1}}\ntrain: {epochs: 1}\n", plugin_path());
    struct spec *s = malloc(sizeof *s);
    struct err e = {0};
    ck_assert_msg(spec_load_string(s, "p.yaml", yaml, strlen(yaml), NULL, 0, &e) == 0, "%s", e.msg);
    struct backend *cpu = test_cpu_backend(), device = *cpu;
    device.host_memory = false;
    struct model m;
    ck_assert_int_eq(model_build(&m, s, &device, 2, 4, &e), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "p.yaml: model[1]: plugin layer 'centered' runs on host memory only; use --device cpu");
    model_free(&m);
    e = (struct err){0};
    ck_assert_msg(model_build(&m, s, cpu, 2, 4, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.layers[1].out, 3);
    model_free(&m);
    cpu->destroy(cpu);
    free(s);
}
END_TEST

Suite *suite_blocks(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, print_model_matches_pytorch);
    tcase_add_test(tc, pytorch_checkpoint_loads);
    tcase_add_test(tc, init_from_round_trip_and_frozen_tensors);
    tcase_add_test(tc, plugin_layers_match_the_built_in_ones);
    tcase_add_test(tc, plugin_errors_are_clear);
    tcase_add_test(tc, plugin_layer_needs_host_memory);
    suite_add_tcase(s, tc);
    return s;
}
