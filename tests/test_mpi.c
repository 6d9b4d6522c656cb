/* d2ltrain under mpirun (Open MPI, two ranks on whatever cores there are):
 * k-fold over the ranks prints what one process prints, data-parallel
 * training follows the one-process trajectory at the same global batch,
 * a sweep's points over the ranks give what one process gives, and a
 * rank killed in training stops the job with its rank named. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/comm.h"
#include "../core/safetensors.h"
#include "proc.h"
#include "skip.h"
#include "tmpdir.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
/* CI runs as root; oversubscribed, so that 2 ranks run on 1 core too.
 * Under ASan, LeakSanitizer is told what Open MPI keeps past
 * MPI_Finalize (tests/san/mpi.supp); a leak of ours is still reported. */
#define MPIRUN                                                                                     \
    "LSAN_OPTIONS=suppressions=\"$PWD/tests/san/mpi.supp\":fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS} " \
    "mpirun --oversubscribe --allow-run-as-root --bind-to none"

/* `d2ltrain ARGS` under mpirun with `ranks` ranks (0: alone), the tests'
 * data cache added; any exit status. */
static struct proc_result run_ranks_status(int ranks, const char *args, char **command)
{
    const char *bin = getenv("D2LTRAIN");
    char launcher[512] = "";
    if (ranks)
        snprintf(launcher, sizeof launcher, MPIRUN " -np %d ", ranks);
    if (asprintf(command, "%s'%s' %s --quiet --data-dir '%s/build/test-data'", launcher,
                 bin && *bin ? bin : "./d2ltrain", args, repo_root()) < 0)
        abort();
    return run_shell(*command);
}

/* The same, which must exit 0. */
static struct proc_result run_ranks(int ranks, const char *args)
{
    char *command;
    struct proc_result r = run_ranks_status(ranks, args, &command);
    /* the end of stderr: Check's messages are short */
    size_t len = strlen(r.err);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s", command, r.status, r.err + (len > 1500 ? len - 1500 : 0));
    free(command);
    return r;
}

/* out without the " time ..." ends of its lines (fold and epoch lines),
 * malloc'd. */
static char *without_times(const char *out)
{
    char *copy = strdup(out), *result = calloc(1, strlen(out) + 2);
    ck_assert(copy && result);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *time = strstr(line, " time ");
        if (time)
            *time = '\0';
        strcat(strcat(result, line), "\n");
    }
    free(copy);
    return result;
}

/* A file's lines without their "time_s" member (metrics.jsonl), malloc'd. */
static char *jsonl_without_times(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *result = calloc(1, 1 << 22), line[4096];
    size_t used = 0;
    while (fgets(line, sizeof line, f)) {
        char *time = strstr(line, ",\"time_s\"");
        if (time)
            strcpy(time, "}\n");
        size_t len = strlen(line);
        ck_assert_uint_lt(used + len, (size_t)1 << 22);
        memcpy(result + used, line, len + 1);
        used += len;
    }
    fclose(f);
    return result;
}

static const char *const kfold_specs[] = {
    "configs/weight_decay.yaml --set kfold.k=3 --set train.epochs=20",
    "configs/kaggle_house.yaml --set train.epochs=10 --mirror 'file://%s/../shared/data/kaggle_house/'",
};

/* Every fold line, the averages, --verbose's epoch lines and --out's
 * metrics.jsonl: one process and 2 ranks (the folds 1, 3, 5 on rank 0 and
 * 2, 4 on rank 1) give the same numbers, each fold being computed alike
 * whichever rank trains it. */
START_TEST(kfold_over_two_ranks_prints_what_one_process_prints)
{
    char spec[1024], args[2048], kaggle[1024];
    snprintf(spec, sizeof spec, kfold_specs[_i], repo_root());
    snprintf(kaggle, sizeof kaggle, "%s/../shared/data/kaggle_house/kaggle_house_pred_train.csv", repo_root());
    if (_i == 1 && access(kaggle, R_OK)) {
        fprintf(stderr, "mpi: the Kaggle half of the k-fold test left out: ../shared/data/kaggle_house missing\n");
        return;
    }
    tmp_dir_make("mpi-kfold");
    snprintf(args, sizeof args, "kfold %s --verbose --out %s", spec, tmp_path("one"));
    struct proc_result one = run_ranks(0, args);
    snprintf(args, sizeof args, "kfold %s --verbose --out %s", spec, tmp_path("two"));
    struct proc_result two = run_ranks(2, args);
    char *a = without_times(one.out), *b = without_times(two.out);
    ck_assert_ptr_nonnull(strstr(a, "-fold validation: avg"));
    ck_assert_ptr_nonnull(strstr(a, "fold 2 epoch 3/"));
    ck_assert_str_eq(b, a);
    char path[2][1100];
    snprintf(path[0], sizeof path[0], "%s/metrics.jsonl", tmp_path("one"));
    snprintf(path[1], sizeof path[1], "%s/metrics.jsonl", tmp_path("two"));
    char *ja = jsonl_without_times(path[0]), *jb = jsonl_without_times(path[1]);
    ck_assert_ptr_nonnull(strstr(ja, "\"fold\":2"));
    ck_assert_str_eq(jb, ja);
    free(ja), free(jb), free(a), free(b);
    proc_result_free(&one);
    proc_result_free(&two);
    tmp_dir_remove();
}
END_TEST

/* d2l 4.4's polynomial fit, few epochs: a sweep's points train in
 * moments. */
static const char poly_spec[] = "name: poly\n"
                                "seed: 42\n"
                                "data: {dataset: synthetic_poly, w: [5, 1.2, -3.4, 5.6], max_degree: 20, features: 4,\n"
                                "       n_train: 100, n_test: 100, noise: 0.1, batch_size: 10}\n"
                                "model: [{linear: {out: 8}}, relu, {linear: {out: 1}}]\n"
                                "loss: mse\n"
                                "optimizer: {sgd: {lr: 0.01}}\n"
                                "train: {epochs: 3}\n";

/* A sweep's output without what differs between two runs: the " time "
 * ends of the point lines and the table rows' last cell (time_s). */
static char *sweep_without_times(const char *out)
{
    char *result = without_times(out);
    for (char *line = result, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        size_t start = strspn(line, " ");
        if (line[start] < '0' || line[start] > '9')
            continue;
        char *cut = end;
        while (cut > line && (cut[-1] == '.' || (cut[-1] >= '0' && cut[-1] <= '9')))
            cut--;
        memmove(cut, end, strlen(end) + 1);
        end = cut;
    }
    return result;
}

/* tmp_path(a)/NAME and tmp_path(b)/NAME are the same bytes (jsonl: but
 * their "time_s" and "seconds" members). */
static void assert_same_file(const char *a, const char *b, const char *name, bool jsonl)
{
    char pa[1100], pb[1100];
    snprintf(pa, sizeof pa, "%s/%s", tmp_path(a), name);
    snprintf(pb, sizeof pb, "%s/%s", tmp_path(b), name);
    if (!jsonl) {
        char command[2300];
        snprintf(command, sizeof command, "cmp '%s' '%s'", pa, pb);
        struct proc_result r = run_shell(command);
        ck_assert_msg(r.status == 0, "%s", r.out);
        proc_result_free(&r);
        return;
    }
    char *x = jsonl_without_times(pa), *y = jsonl_without_times(pb);
    for (char *t[2] = {x, y}, **p = t; p < t + 2; p++)
        for (char *at = *p; (at = strstr(at, ",\"seconds\":"));)
            memmove(at, at + strcspn(at, "}"), strlen(at + strcspn(at, "}")) + 1);
    ck_assert_msg(!strcmp(x, y), "%s and %s differ:\n%s---\n%s", pa, pb, x, y);
    free(x), free(y);
}

/* Four points, two trained on each rank (points 1 and 3 on rank 0, 2 and
 * 4 on rank 1): rank 0 prints the lines and the table one process prints
 * (--threads 1: the points end in their order), and its --out holds what
 * one process writes: sweep.jsonl but the seconds, and every point's
 * files, its model byte for byte. */
START_TEST(sweep_over_two_ranks_is_what_one_process_writes)
{
    tmp_dir_make("mpi-sweep");
    char spec[1024], args[2048];
    snprintf(spec, sizeof spec, "%s", tmp_write("poly.yaml", poly_spec, sizeof poly_spec - 1));
    static const char grid[] = "--grid optimizer.sgd.lr=0.01,0.02 --grid 'model[0].linear.out=4,8' --threads 1";
    snprintf(args, sizeof args, "sweep %s %s --out %s", spec, grid, tmp_path("one"));
    struct proc_result one = run_ranks(0, args);
    snprintf(args, sizeof args, "sweep %s %s --out %s", spec, grid, tmp_path("two"));
    struct proc_result two = run_ranks(2, args);
    char *a = sweep_without_times(one.out), *b = sweep_without_times(two.out);
    ck_assert_ptr_nonnull(strstr(a, "point 4/4 optimizer.sgd.lr=0.02 model[0].linear.out=8: epoch 3/3"));
    ck_assert_ptr_nonnull(strstr(a, "rank  optimizer.sgd.lr"));
    ck_assert_str_eq(b, a);
    assert_same_file("one", "two", "sweep.jsonl", true);
    static const char *const points[] = {"lr=0.01,out=4", "lr=0.01,out=8", "lr=0.02,out=4", "lr=0.02,out=8"};
    static const char *const files[] = {"model.safetensors", "config.yaml", "metrics.jsonl", "curves.svg"};
    for (int p = 0; p < 4; p++)
        for (int f = 0; f < 4; f++) {
            char name[256];
            snprintf(name, sizeof name, "%s/%s", points[p], files[f]);
            assert_same_file("one", "two", name, f == 2);
        }
    free(a), free(b);
    proc_result_free(&one);
    proc_result_free(&two);
    tmp_dir_remove();
}
END_TEST

/* Point 2 diverges on rank 1: rank 0 reports it as one process does (its
 * line, its table row, sweep.jsonl) and the job exits 1. */
START_TEST(a_point_failing_on_rank_1_is_reported)
{
    tmp_dir_make("mpi-sweep-fail");
    char spec[1024], args[2048], *command;
    snprintf(spec, sizeof spec, "%s", tmp_write("poly.yaml", poly_spec, sizeof poly_spec - 1));
    snprintf(args, sizeof args, "sweep %s --grid optimizer.sgd.lr=0.01,1000,0.02 --out %s", spec, tmp_path("out"));
    struct proc_result r = run_ranks_status(2, args, &command);
    ck_assert_msg(r.status == 1, "%s: exit %d: %.1500s", command, r.status, r.err);
    ck_assert_msg(strstr(r.out, "point 2/3 optimizer.sgd.lr=1000: failed: the loss became NaN or infinite"), "%s",
                  r.out);
    ck_assert_msg(strstr(r.out, "point 3/3 optimizer.sgd.lr=0.02: epoch 3/3"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "3     1000              failed"), "%s", r.out);
    char path[1100];
    snprintf(path, sizeof path, "%s/sweep.jsonl", tmp_path("out"));
    char *jsonl = jsonl_without_times(path);
    ck_assert_msg(strstr(jsonl, "\"status\":\"failed\""), "%s", jsonl);
    snprintf(path, sizeof path, "%s/lr=0.02/model.safetensors", tmp_path("out"));
    ck_assert_msg(access(path, R_OK) == 0, "no %s", path);
    snprintf(path, sizeof path, "%s/lr=1000", tmp_path("out"));
    ck_assert_msg(access(path, F_OK) != 0, "%s was written", path);
    free(jsonl);
    free(command);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* The "loss" of each line of DIR/metrics.jsonl; returns how many. */
static int epoch_losses(const char *dir, double *loss, int cap)
{
    char path[1100], line[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        const char *v = strstr(line, "\"loss\":");
        ck_assert_ptr_nonnull(v);
        loss[n++] = strtod(v + 7, NULL);
    }
    fclose(f);
    return n;
}

/* The largest ||a - b|| / ||b|| of a tensor of two model.safetensors,
 * which must name the same tensors and shapes. */
static double params_max_rel_diff(const char *dir_a, const char *dir_b)
{
    char pa[1200], pb[1200];
    snprintf(pa, sizeof pa, "%s/model.safetensors", dir_a);
    snprintf(pb, sizeof pb, "%s/model.safetensors", dir_b);
    struct st_file a, b;
    struct err e = {0};
    ck_assert_msg(!safetensors_load(&a, pa, &e) && !safetensors_load(&b, pb, &e), "%s", e.msg);
    ck_assert_int_eq(a.n, b.n);
    double worst = 0;
    for (int i = 0; i < a.n; i++) {
        const struct st_tensor *t = safetensors_find(&b, a.tensors[i].name);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->count, a.tensors[i].count);
        double diff = 0, norm = 0;
        for (size_t j = 0; j < t->count; j++) {
            double d = (double)a.tensors[i].data[j] - t->data[j];
            diff += d * d;
            norm += (double)t->data[j] * t->data[j];
        }
        worst = fmax(worst, sqrt(diff / fmax(norm, 1e-30)));
    }
    safetensors_free(&a);
    safetensors_free(&b);
    return worst;
}

struct dp_case {
    const char *args; /* the spec and its --set */
    int ranks;
    bool fashion;     /* needs Fashion-MNIST */
};

/* The learning rates are lowered where the book's would amplify the
 * rounding of the sum's order past 1e-5 within the epochs run (lr 0.1:
 * parameters 1e-3 apart after 2 epochs, the losses still within 1e-5;
 * dropout's lr 0.5 leaves its plateau a little sooner or later). */
static const struct dp_case dp_cases[] = {
    /* 60000 % 256 = 96 rows in the last batch, 48 per rank */
    {"configs/mlp_fashion.yaml --set train.epochs=2 --set optimizer.sgd.lr=0.01", 2, true},
    /* dropout masks drawn by global row: the same masks on either side */
    {"configs/dropout_fashion.yaml --set train.epochs=1 --set optimizer.sgd.lr=0.01", 2, true},
    /* 3-row batches over 4 ranks: rank 0's slice is always empty, and an
     * L2 penalty, whose gradient rank 0 alone adds */
    {"configs/linreg.yaml --set data.batch_size=3 --set penalty.l2=0.5 --set train.epochs=2", 4, false},
};

/* Every epoch's loss within 1e-5 relative of one process at the same global
 * batch, the final parameters within 1e-5 (they differ only in the order
 * the ranks' gradient parts are summed). */
START_TEST(data_parallel_follows_one_process)
{
    const struct dp_case *c = &dp_cases[_i];
    if (c->fashion && access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK)) {
        fprintf(stderr, "mpi: %s left out: " FASHION_DIR " is missing\n", c->args);
        return;
    }
    char args[2048];
    tmp_dir_make("mpi-dp");
    snprintf(args, sizeof args, "run %s --out %s", c->args, tmp_path("one"));
    struct proc_result one = run_ranks(0, args);
    char ranks_dir[1100];
    snprintf(ranks_dir, sizeof ranks_dir, "%s", tmp_path("ranks"));
    snprintf(args, sizeof args, "run %s --data-parallel --out %s", c->args, ranks_dir);
    struct proc_result many = run_ranks(c->ranks, args);
    double la[64], lb[64];
    int na = epoch_losses(tmp_path("one"), la, 64), nb = epoch_losses(ranks_dir, lb, 64);
    ck_assert_int_gt(na, 0);
    ck_assert_int_eq(na, nb);
    for (int i = 0; i < na; i++)
        ck_assert_msg(fabs(lb[i] - la[i]) <= 1e-5 * fabs(la[i]), "%s: epoch %d loss %.9g over %d ranks, %.9g alone",
                      c->args, i + 1, lb[i], c->ranks, la[i]);
    double diff = params_max_rel_diff(ranks_dir, tmp_path("one"));
    fprintf(stderr, "mpi: %s over %d ranks: parameters within %.3g of one process\n", c->args, c->ranks, diff);
    ck_assert_msg(diff <= 1e-5, "%s: parameters differ by %.3g relative", c->args, diff);
    /* rank 0 alone printed */
    char *a = without_times(one.out), *b = without_times(many.out);
    ck_assert_str_eq(b, a);
    free(a), free(b);
    proc_result_free(&one);
    proc_result_free(&many);
    tmp_dir_remove();
}
END_TEST

/* Data-parallel linear regression, long enough to be stopped. */
static const char long_data_parallel[] =
    "run configs/linreg.yaml --data-parallel --set data.n_train=200000 --set train.epochs=1000";

/* `d2ltrain ARGS` (long enough to be stopped) under mpirun, its stdout
 * into tmp "out.txt", stderr into "err" and --out into "out"; `kill
 * -SIGNAL` to rank 1 alone two seconds into training. Sets mpirun's exit
 * status and the milliseconds from the signal to its end; returns stderr
 * (malloc'd). */
static char *signal_rank_1(const char *args, const char *signal, int *rc, int *ms)
{
    const char *bin = getenv("D2LTRAIN");
    char *command;
    if (asprintf(&command,
                 MPIRUN " -np 2 '%s' %s --quiet --out '%s' >'%s' 2>'%s' &\n"
                        "mp=$!; r1=''\n"
                        "for i in $(seq 300); do\n"
                        "  for c in $(pgrep -P $mp); do\n"
                        "    tr '\\0' '\\n' < /proc/$c/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && r1=$c\n"
                        "  done\n"
                        "  [ -n \"$r1\" ] && break; sleep 0.1\n"
                        "done\n"
                        /* on a loaded machine rank 1 may still be starting: a SIGINT before its
                         * handler is in (SigCgt, bit 2 for SIGINT) would end it as a plain kill */
                        "for i in $(seq 300); do\n"
                        "  c=$(awk '/^SigCgt/ { print $2 }' /proc/$r1/status 2>/dev/null)\n"
                        "  [ -n \"$c\" ] && [ $(( 0x$c & 2 )) -ne 0 ] && break; sleep 0.1\n"
                        "done\n"
                        "sleep 2; kill -%s $r1; t0=$(date +%%s%%N); wait $mp; rc=$?; t1=$(date +%%s%%N)\n"
                        "echo \"$rc $(( (t1 - t0) / 1000000 ))\"\n",
                 bin && *bin ? bin : "./d2ltrain", args, tmp_path("out"), tmp_path("out.txt"), tmp_path("err"),
                 signal) < 0)
        abort();
    struct proc_result r = run_shell(command);
    free(command);
    ck_assert_int_eq(sscanf(r.out, "%d %d", rc, ms), 2);
    proc_result_free(&r);
    FILE *f = fopen(tmp_path("err"), "r");
    ck_assert_ptr_nonnull(f);
    char *err = calloc(1, 8192);
    ck_assert_ptr_nonnull(err);
    err[fread(err, 1, 8191, f)] = 0;
    fclose(f);
    return err;
}

/* kill -9 to rank 1 of `d2ltrain ARGS` in training: mpirun ends the job
 * within seconds, exits nonzero and names rank 1, and --out has no
 * `written` file. */
static void kill_rank_1(const char *args, const char *written)
{
    int rc, ms;
    char *err = signal_rank_1(args, "9", &rc, &ms);
    fprintf(stderr, "mpi: rank 1 of %.*s killed: mpirun exit %d after %d ms\n", (int)strcspn(args, " "), args, rc,
            ms);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(ms < 10000, "the job took %d ms to stop", ms);
    ck_assert_msg(strstr(err, "rank 1") && strstr(err, "signal 9"), "no rank named in: %.1500s", err);
    free(err);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", tmp_path("out"), written);
    ck_assert_msg(access(path, F_OK) != 0, "%s was written", path);
}

/* kill -9 of rank 1 in the middle of training: mpirun ends the job within
 * seconds, exits nonzero and names rank 1; --out holds nothing (the
 * staging directory rank 0 leaves is removed by the next writer). */
START_TEST(a_killed_rank_stops_the_job)
{
    tmp_dir_make("mpi-kill");
    kill_rank_1(long_data_parallel, "metrics.jsonl");
    /* the next writer clears the staging directory the killed job left */
    char args[2048], *command;
    snprintf(args, sizeof args, "run configs/linreg.yaml --set train.epochs=1 --out '%s'", tmp_path("out"));
    struct proc_result again = run_ranks(0, args);
    if (asprintf(&command, "ls -a '%s' | grep -c d2ltrain- || true", tmp_path("")) < 0)
        abort();
    struct proc_result left = run_shell(command);
    free(command);
    ck_assert_msg(atoi(left.out) == 0, "staging directories left: %s", left.out);
    proc_result_free(&left);
    proc_result_free(&again);
    tmp_dir_remove();
}
END_TEST

/* kill -9 of rank 1 while each rank trains a point of a sweep: mpirun
 * ends the job within seconds naming rank 1, and --out holds nothing. */
START_TEST(a_killed_rank_stops_a_sweep)
{
    tmp_dir_make("mpi-sweep-kill");
    kill_rank_1("sweep configs/linreg.yaml --grid optimizer.sgd.lr=0.01,0.02 --set data.n_train=200000 "
                "--set train.epochs=1000", "sweep.jsonl");
    tmp_dir_remove();
}
END_TEST

/* SIGINT to rank 1 alone: both ranks stop after the same epoch (they
 * agree at its end), rank 0 keeps the resume state and says how to go on,
 * and the job exits 130 as one interrupted process does. */
START_TEST(sigint_to_one_rank_stops_all_at_an_epochs_end)
{
    tmp_dir_make("mpi-sigint");
    int rc, ms;
    char *err = signal_rank_1(long_data_parallel, "INT", &rc, &ms);
    ck_assert_msg(rc == 130, "mpirun exit %d: %.1500s", rc, err);
    free(err);
    FILE *f = fopen(tmp_path("out.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char out[8192] = "";
    out[fread(out, 1, sizeof out - 1, f)] = 0;
    fclose(f);
    ck_assert_msg(strstr(out, "interrupted after epoch ") && strstr(out, "--data-parallel --resume"), "%s", out);
    char path[1100];
    snprintf(path, sizeof path, "%s/resume.safetensors", tmp_path("out"));
    ck_assert_msg(access(path, R_OK) == 0, "no %s", path);
    tmp_dir_remove();
}
END_TEST

/* kfold over 2 ranks, SIGINT to rank 1 alone (the test hook, in the third
 * epoch of its fold 2) while rank 0 trains fold 1, which is long: the
 * ranks agree on the stop while they train, so rank 0 stops within
 * moments rather than after its fold; neither fold finished, --out is
 * not written, every rank exits 130. */
START_TEST(sigint_to_one_rank_stops_every_ranks_folds)
{
    tmp_dir_make("mpi-kfold-sigint");
    const char *bin = getenv("D2LTRAIN");
    char args[2048], *command;
    snprintf(args, sizeof args,
             "'%s' kfold configs/linreg.yaml --set kfold.k=2 --set train.epochs=20000 --threads 1 --quiet --out '%s'",
             bin && *bin ? bin : "./d2ltrain", tmp_path("out"));
    /* 500 training rows in batches of 10: step 120 is in epoch 3 */
    if (asprintf(&command, MPIRUN " -np 1 %s : -np 1 env D2L_TEST_SIGINT_AT_STEP=120 %s", args, args) < 0)
        abort();
    struct proc_result r = run_shell(command);
    free(command);
    ck_assert_msg(r.status == 130, "mpirun exit %d: %.1500s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "fold 2/2 interrupted after epoch 2 (left out)\n"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "interrupted: 0 of 2 folds finished\n"), "%s", r.out);
    ck_assert_msg(!strstr(r.out, "validation"), "%s", r.out);
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", tmp_path("out"));
    ck_assert_msg(access(path, F_OK) != 0, "%s was written", path);
    proc_result_free(&r);
    tmp_dir_remove();
}
END_TEST

/* Under mpirun, run without --data-parallel would train one model per
 * rank, and a command that does not share its work would repeat it. */
static const char *const refused_over_ranks[][2] = {
    {"run configs/linreg.yaml", "rank 0: run under an MPI launcher with 2 ranks needs --data-parallel"},
    {"list", "rank 0: list runs as one process: start it without an MPI launcher (run, kfold and sweep"},
};

START_TEST(commands_refused_over_ranks)
{
    const char *bin = getenv("D2LTRAIN");
    char *command;
    if (asprintf(&command, MPIRUN " -np 2 '%s' %s --quiet", bin && *bin ? bin : "./d2ltrain",
                 refused_over_ranks[_i][0]) < 0)
        abort();
    struct proc_result r = run_shell(command);
    free(command);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, refused_over_ranks[_i][1]), "%.1500s", r.err);
    proc_result_free(&r);
}
END_TEST

/* A process no launcher started is rank 0 of 1 and its collectives are
 * the identity: a gather copies, a sum leaves the values, an agreement
 * keeps this rank's own error. */
START_TEST(one_process_is_rank_0_of_1)
{
    ck_assert_int_eq(comm_size(), 1);
    ck_assert_int_eq(comm_rank(), 0);
    ck_assert_int_eq(comm_local_rank(), 0);
    const char mine[5] = "fold";
    char all[5] = "", *var;
    comm_gather(mine, sizeof mine, all);
    ck_assert_str_eq(all, "fold");
    size_t count = 0;
    struct err ve = {0};
    ck_assert_int_eq(comm_gatherv(mine, sizeof mine, &var, &count, &ve), 0);
    ck_assert_uint_eq(count, sizeof mine);
    ck_assert_str_eq(var, "fold");
    free(var);
    float x[2] = {1.5f, -2.0f};
    comm_allreduce_f32(x, 2);
    ck_assert(x[0] == 1.5f && x[1] == -2.0f);
    comm_bcast(x, sizeof x, 0);
    ck_assert(x[0] == 1.5f && x[1] == -2.0f);
    ck_assert(comm_any(true));
    ck_assert(!comm_any(false));
    struct err e = {0};
    ck_assert_int_eq(comm_agree(&e), 0);
    err_set(&e, EXIT_DATA, "bad row");
    ck_assert_int_eq(comm_agree(&e), EXIT_DATA);
    ck_assert_str_eq(e.msg, "bad row");
}
END_TEST

Suite *suite_mpi(void)
{
    Suite *s = suite_create("mpi");
    TCase *one = tcase_create("one_process");
    tcase_add_test(one, one_process_is_rank_0_of_1);
    suite_add_tcase(s, one);
    struct proc_result info = run_d2ltrain("info");
    bool built_in = info.status == 0 && !strstr(info.out, "MPI: not built in");
    proc_result_free(&info);
    struct proc_result which = run_shell("command -v mpirun");
    bool have_mpirun = which.status == 0;
    proc_result_free(&which);
    if (!built_in || !have_mpirun) {
        tests_skipped("mpi", 13, !built_in ? "d2ltrain built without MPI: install libopenmpi-dev and rebuild"
                                          : "mpirun is missing: apt-get install openmpi-bin");
        return s;
    }
    TCase *tc = tcase_create("ranks");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, kfold_over_two_ranks_prints_what_one_process_prints, 0,
                        (int)(sizeof kfold_specs / sizeof kfold_specs[0]));
    tcase_add_loop_test(tc, data_parallel_follows_one_process, 0, (int)(sizeof dp_cases / sizeof dp_cases[0]));
    tcase_add_test(tc, sweep_over_two_ranks_is_what_one_process_writes);
    tcase_add_test(tc, a_point_failing_on_rank_1_is_reported);
    tcase_add_test(tc, a_killed_rank_stops_the_job);
    tcase_add_test(tc, a_killed_rank_stops_a_sweep);
    tcase_add_test(tc, sigint_to_one_rank_stops_all_at_an_epochs_end);
    tcase_add_test(tc, sigint_to_one_rank_stops_every_ranks_folds);
    tcase_add_loop_test(tc, commands_refused_over_ranks, 0,
                        (int)(sizeof refused_over_ranks / sizeof refused_over_ranks[0]));
    suite_add_tcase(s, tc);
    return s;
}
