#include "synthetic.h"

#include <math.h>
#include <stdlib.h>

#include "../core/philox.h"

/* The i-th standard normal of the data stream (Box-Muller, one Philox block
 * per pair). */
static double data_normal(uint64_t seed, uint64_t i)
{
    struct philox4 r = philox4x32(0, i / 2, philox_key(seed, RNG_DATA));
    double u1 = ((r.v[0] >> 8) + 1.0) / 16777217.0, u2 = (r.v[1] >> 8) / 16777216.0;
    double radius = sqrt(-2.0 * log(u1)), angle = 2 * M_PI * u2;
    return i % 2 ? radius * sin(angle) : radius * cos(angle);
}

static int alloc_set(struct dataset *ds, size_t n, size_t d, struct err *e)
{
    *ds = (struct dataset){.n = n, .d = d, .x_type = X_F32, .x_scale = 1, .y_width = 1};
    ds->x = malloc((n * d > 0 ? n * d : 1) * sizeof(float));
    ds->y = malloc((n ? n : 1) * sizeof(float));
    if (!ds->x || !ds->y)
        return err_set(e, EXIT_RUNTIME, "out of memory: synthetic data of %zu x %zu", n, d);
    return 0;
}

/* Fills rows [0, n) of both sets from one sequence, train rows first. */
typedef void (*row_fn)(const struct synthetic_params *d, uint64_t seed, size_t row, float *x, float *y);

static int generate(const struct synthetic_params *d, uint64_t seed, size_t width, row_fn fill_row,
                    struct data_split *out, struct err *e)
{
    if (alloc_set(&out->train, (size_t)d->n_train, width, e) || alloc_set(&out->test, (size_t)d->n_test, width, e)) {
        data_split_free(out);
        return e->code;
    }
    for (size_t r = 0; r < (size_t)d->n_train + (size_t)d->n_test; r++) {
        struct dataset *ds = r < (size_t)d->n_train ? &out->train : &out->test;
        size_t row = r < (size_t)d->n_train ? r : r - (size_t)d->n_train;
        fill_row(d, seed, r, (float *)ds->x + row * width, ds->y + row);
    }
    return 0;
}

static void linear_row(const struct synthetic_params *d, uint64_t seed, size_t row, float *x, float *y)
{
    size_t per_row = (size_t)d->n_w + 1;
    double sum = d->b;
    for (int j = 0; j < d->n_w; j++) {
        double v = data_normal(seed, row * per_row + (size_t)j);
        x[j] = (float)v;
        sum += (double)x[j] * d->w[j];
    }
    *y = (float)(sum + d->noise * data_normal(seed, row * per_row + (size_t)d->n_w));
}

int synthetic_linear(const struct synthetic_params *d, uint64_t seed, struct data_split *out, struct err *e)
{
    return generate(d, seed, (size_t)d->n_w, linear_row, out, e);
}

static void poly_row(const struct synthetic_params *d, uint64_t seed, size_t row, float *x, float *y)
{
    double v = data_normal(seed, row * 2), power = 1, sum = 0;
    for (int i = 0; i < d->max_degree; i++) {
        double feature = power / tgamma(i + 1.0);
        if (i < d->n_w)
            sum += feature * d->w[i];
        if (i < d->features)
            x[i] = (float)feature;
        power *= v;
    }
    *y = (float)(sum + d->noise * data_normal(seed, row * 2 + 1));
}

int synthetic_poly(const struct synthetic_params *d, uint64_t seed, struct data_split *out, struct err *e)
{
    return generate(d, seed, (size_t)d->features, poly_row, out, e);
}
