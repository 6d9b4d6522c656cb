/* d2l's synthetic regression data, drawn from the shared Philox stream. */
#ifndef D2L_SYNTHETIC_H
#define D2L_SYNTHETIC_H

#include "dataset.h"

/* What the spec's data section says of synthetic data. */
struct synthetic_params {
    const double *w; /* n_w weights (linear) or coefficients (poly) */
    int n_w;
    double b;
    int n_train, n_test;
    double noise;
    int max_degree, features; /* poly only */
};

/* d2l 3.2 synthetic_data: X ~ N(0, 1), y = X w + b + N(0, noise^2);
 * n_train rows for training, then n_test more for testing. */
int synthetic_linear(const struct synthetic_params *d, uint64_t seed, struct data_split *out, struct err *e);

/* d2l 4.4: x ~ N(0, 1), features x^i / i! for i < max_degree, y = features
 * . w (w padded with zeros) + N(0, noise^2); the model sees the first
 * `features` columns. */
int synthetic_poly(const struct synthetic_params *d, uint64_t seed, struct data_split *out, struct err *e);

#endif
