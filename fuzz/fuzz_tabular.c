/* The CSV reader and the tabular preprocessing on any bytes. The input is a
 * train CSV, optionally followed by "\n\f\n" and a test CSV; labels are the
 * column SalePrice, ids the column Id (as the Kaggle spec). What loads
 * holds only finite floats, as training needs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/tabular.h"
#include "input_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_finite(const struct dataset *ds, const char *what)
{
    const float *x = ds->x;
    for (size_t i = 0; i < ds->n * ds->d; i++)
        if (!isfinite(x[i])) {
            fprintf(stderr, "%s feature %zu is %g\n", what, i, x[i]);
            abort();
        }
    for (size_t i = 0; ds->y && i < ds->n; i++)
        if (!isfinite(ds->y[i])) {
            fprintf(stderr, "%s label %zu is %g\n", what, i, ds->y[i]);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memmem(data, size, "\n\f\n", 3);
    size_t train_len = split ? (size_t)(split - data) : size;
    const char *train = fuzz_input_file(0, data, train_len);
    const char *test = split ? fuzz_input_file(1, split + 3, size - train_len - 3) : NULL;
    struct preprocess_spec p = {.id_column = "Id", .label_column = "SalePrice", .standardize = true,
                                .dummy_na = true, .stats_from_train_only = size % 2};
    struct data_split out;
    struct err e = {0};
    if (tabular_load(train, test, &p, &out, &e) == 0) {
        check_finite(&out.train, "train");
        check_finite(&out.test, "test");
        data_split_free(&out);
    }
    return 0;
}
