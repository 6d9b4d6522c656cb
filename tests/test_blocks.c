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

#include "../core/safetensors.h"
#include "proc.h"
#include "tmpdir.h"

static char *read_text(const char *path)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", repo_root(), path);
    FILE *f = fopen(full, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", full);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
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
    char *torch = read_text(fixture);
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
    char *sums = read_text("tests/fixtures/blocks_ch5.sums.txt"), *out = malloc(strlen(r.out) + 2);
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

Suite *suite_blocks(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, print_model_matches_pytorch);
    tcase_add_test(tc, pytorch_checkpoint_loads);
    tcase_add_test(tc, init_from_round_trip_and_frozen_tensors);
    suite_add_tcase(s, tc);
    return s;
}
