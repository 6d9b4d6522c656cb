/* d2ltrain show DATASET -n N -o FILE.svg: training images with their
 * labels (d2l 3.5); and the grid predict --images draws. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/images.h"
#include "../core/svg.h"
#include "../core/terms.h"
#include "../core/data_open.h"
#include "args.h"
#include "cmd.h"

static const char usage[] =
    "usage: d2ltrain show DATASET [-n N] -o FILE.svg [options]\n"
    "Draws the first N (default 18) training images of an image dataset (fashion_mnist)\n"
    "with their labels, as d2l 3.5 does.\n"
    "  -n N            how many images (1 to 1000)\n"
    "  -o FILE.svg     the picture (required)\n"
    "  --data-dir DIR, --mirror URL, --cacert FILE, --quiet: as for run\n"
    "Exit status: 0 ok, 2 usage error (or not an image dataset), 3 data error.\n";

enum { MAX_IMAGES = 1000, COLS = 9 };

int parse_image_count(const char *v, int *n, struct err *e)
{
    char *end;
    long k = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || k < 1 || k > MAX_IMAGES)
        return err_set(e, EXIT_USAGE, "the number of images must be an integer from 1 to %d, not '%s'", MAX_IMAGES,
                       v);
    *n = (int)k;
    return 0;
}

int draw_images(const char *path, const char *dataset, const char *title, const struct dataset *ds, int n,
                const float *out, int width, struct err *e)
{
    int side = image_side(ds->x_type == X_U8, ds->d);
    if (!side || !ds->class_names || !ds->y)
        return err_set(e, EXIT_USAGE, "%s: not a labelled image dataset (images are drawn for fashion_mnist)",
                       dataset);
    n = (size_t)n < ds->n ? n : (int)ds->n;
    struct image_caption *caps = calloc((size_t)n + 1, sizeof *caps);
    if (!caps)
        return err_set(e, EXIT_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *truth = ds->class_names[(int)ds->y[(size_t)i * ds->y_width]];
        caps[i].line1 = truth;
        if (out) {
            caps[i].line2 = ds->class_names[argmax_row(out + (size_t)i * width, width)];
            caps[i].wrong = strcmp(caps[i].line1, caps[i].line2) != 0;
        }
    }
    struct svg_file f;
    if (!svg_file_open(&f, path, e)) {
        images_write_svg(f.f, title, ds->x, n, side, caps, COLS);
        svg_file_commit(&f, e);
    }
    free(caps);
    return e->code;
}

enum show_option { SHOW_COUNT, SHOW_OUT, SHOW_DATA_DIR, SHOW_MIRROR, SHOW_CACERT, SHOW_QUIET };

static const struct arg_option show_options[] = {
    {"-n", NULL, true, SHOW_COUNT},          {"-o", NULL, true, SHOW_OUT},
    {"--data-dir", NULL, true, SHOW_DATA_DIR}, {"--mirror", NULL, true, SHOW_MIRROR},
    {"--cacert", NULL, true, SHOW_CACERT},   {"--quiet", "-q", false, SHOW_QUIET},
    {NULL},
};

int cmd_show(int argc, char **argv)
{
    struct fetch_options fo = fetch_options_default();
    const char *name = NULL, *out = NULL;
    int n = 18;
    struct err e = {0};
    struct args a = args_start(show_options, argc, argv);
    const char *v;
    for (int id; !e.code && (id = args_next(&a, &v, &e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(usage, stdout);
            return 0;
        } else if (id == SHOW_QUIET)
            fo.quiet = true;
        else if (id == SHOW_COUNT)
            parse_image_count(v, &n, &e);
        else if (id == SHOW_OUT)
            out = v;
        else if (id == SHOW_DATA_DIR)
            fo.data_dir = v;
        else if (id == SHOW_MIRROR)
            fo.mirror = v;
        else if (id == SHOW_CACERT)
            fo.cacert = v;
        else if (id == ARG_OPERAND && name)
            err_set(&e, EXIT_USAGE, "one dataset only: got '%s' and '%s'", name, v);
        else if (id == ARG_OPERAND)
            name = v;
    }
    if (!e.code && !name)
        err_set(&e, EXIT_USAGE, "show needs a dataset name, e.g. d2ltrain show fashion_mnist -o samples.svg");
    else if (!e.code && !out)
        err_set(&e, EXIT_USAGE, "show needs -o FILE.svg");
    else if (!e.code && strcmp(name, "fashion_mnist"))
        err_set(&e, EXIT_USAGE, "%s: not an image dataset (show draws fashion_mnist)", name);
    if (e.code)
        return report_error(&e);
    struct data_spec d = {.kind = DATASET_REGISTRY};
    snprintf(d.dataset, sizeof d.dataset, "%s", name);
    struct data_split data;
    if (!dataset_open(&d, 0, &fo, &data, &e))
        draw_images(out, name, name, &data.train, n, NULL, 0, &e);
    data_split_free(&data);
    return e.code ? report_error(&e) : 0;
}
