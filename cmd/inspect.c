/* d2ltrain inspect FILE.safetensors: every tensor of a checkpoint with its
 * shape, dtype and summary statistics (the file is checked as strictly as
 * run --init-from checks it). */
#include <math.h>
#include <stdio.h>

#include "../core/safetensors.h"
#include "args.h"
#include "cmd.h"

static const char usage[] =
    "usage: d2ltrain inspect FILE.safetensors [--full]\n"
    "Lists every tensor of a checkpoint (run --out's model.safetensors, or PyTorch's\n"
    "safetensors.torch.save_file): name, shape, dtype, mean, std, min, max, L2 norm\n"
    "and the first values.\n"
    "  --full   print every value\n"
    "Exit status: 0 ok, 2 usage error, 3 a missing or malformed file.\n";

#define FIRST_VALUES 6

static void print_tensor(const struct st_tensor *t, bool full)
{
    double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < t->count; i++) {
        sum += t->data[i];
        sq += (double)t->data[i] * t->data[i];
        lo = fmin(lo, t->data[i]);
        hi = fmax(hi, t->data[i]);
    }
    char shape[8 * 24];
    safetensors_shape_text(shape, sizeof shape, t->shape, t->ndim);
    printf("%s F32 %s", t->name, shape);
    if (t->count) {
        double mean = sum / t->count, var = sq / t->count - mean * mean;
        printf(" mean %.6g std %.6g min %.6g max %.6g l2 %.6g", mean, sqrt(var > 0 ? var : 0), lo, hi, sqrt(sq));
    }
    size_t shown = full || t->count <= FIRST_VALUES ? t->count : FIRST_VALUES;
    printf("\n  values");
    for (size_t i = 0; i < shown; i++)
        printf(" %.9g", t->data[i]);
    printf("%s\n", shown < t->count ? " ..." : "");
}

int cmd_inspect(int argc, char **argv)
{
    static const struct arg_option options[] = {{"--full", NULL, false, 0}, {NULL}};
    const char *path = NULL, *v;
    bool full = false;
    struct err e = {0};
    struct args a = args_start(options, argc, argv);
    for (int id; !e.code && (id = args_next(&a, &v, &e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(usage, stdout);
            return 0;
        }
        if (id == 0)
            full = true;
        else if (id == ARG_OPERAND && path)
            err_set(&e, EXIT_USAGE, "one file only: got '%s' and '%s'", path, v);
        else if (id == ARG_OPERAND)
            path = v;
    }
    if (!e.code && !path)
        err_set(&e, EXIT_USAGE, "missing the safetensors file (see --help)");
    struct st_file f = {0};
    if (!e.code && !safetensors_load(&f, path, &e)) {
        size_t total = 0;
        for (int i = 0; i < f.n; i++) {
            print_tensor(&f.tensors[i], full);
            total += f.tensors[i].count;
        }
        printf("%d tensors, %zu values\n", f.n, total);
    }
    safetensors_free(&f);
    return e.code ? report_error(&e) : 0;
}
