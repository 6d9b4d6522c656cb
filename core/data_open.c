#include "data_open.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../data/fashion_mnist.h"
#include "../data/synthetic.h"
#include "../data/tabular.h"

static int open_fashion_mnist(const struct fetch_options *fo, struct data_split *out, struct err *e)
{
    static const char *const files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    char paths[4][PATH_MAX];
    for (int i = 0; i < 4; i++)
        if (fetch_dataset_file("fashion_mnist", files[i], fo, paths[i], sizeof paths[i], e))
            return e->code;
    return fashion_mnist_load(paths[0], paths[1], paths[2], paths[3], out, e);
}

static int open_kaggle_house(const struct data_spec *d, const struct fetch_options *fo, struct data_split *out,
                             struct err *e)
{
    char train[PATH_MAX], test[PATH_MAX];
    if (fetch_dataset_file("kaggle_house_train", "kaggle_house_pred_train.csv", fo, train, sizeof train, e) ||
        fetch_dataset_file("kaggle_house_test", "kaggle_house_pred_test.csv", fo, test, sizeof test, e))
        return e->code;
    return tabular_load(train, test, &d->preprocess, out, e);
}

/* A CSV the spec declares with url and hash (and optionally a test CSV). */
static int open_url(const struct data_spec *d, const struct fetch_options *fo, struct data_split *out,
                    struct err *e)
{
    char train[PATH_MAX], test[PATH_MAX], name[300];
    snprintf(name, sizeof name, "%s.csv", d->dataset);
    if (fetch_url(d->url, d->sha1, d->sha256, d->size, name, fo, train, sizeof train, e))
        return e->code;
    if (!d->test_url[0])
        return tabular_load(train, NULL, &d->preprocess, out, e);
    snprintf(name, sizeof name, "%s_test.csv", d->dataset);
    if (fetch_url(d->test_url, d->test_sha1, d->test_sha256, d->test_size, name, fo, test, sizeof test, e))
        return e->code;
    return tabular_load(train, test, &d->preprocess, out, e);
}

int dataset_open(const struct data_spec *d, uint64_t seed, const struct fetch_options *fo, struct data_split *out,
                 struct err *e)
{
    *out = (struct data_split){0};
    struct synthetic_params synthetic = {.w = d->w, .n_w = d->n_w, .b = d->b, .n_train = d->n_train,
                                         .n_test = d->n_test, .noise = d->noise, .max_degree = d->max_degree,
                                         .features = d->features};
    switch (d->kind) {
    case DATASET_SYNTHETIC_LINEAR:
        return synthetic_linear(&synthetic, seed, out, e);
    case DATASET_SYNTHETIC_POLY:
        return synthetic_poly(&synthetic, seed, out, e);
    case DATASET_URL:
        return open_url(d, fo, out, e);
    case DATASET_REGISTRY:
        break;
    }
    if (!strcmp(d->dataset, "fashion_mnist"))
        return open_fashion_mnist(fo, out, e);
    if (!strcmp(d->dataset, "kaggle_house"))
        return open_kaggle_house(d, fo, out, e);
    return err_set(e, EXIT_USAGE, "data.dataset: '%s' is not a known dataset", d->dataset);
}
