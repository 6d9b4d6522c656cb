/* Optimizers: the backend's sgd_step and adam_step against numbers worked
 * out by hand from torch.optim's formulas, and optim_step's choice of which
 * parameters it decays. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/objective.h"
#include "testutil.h"

#define TOL 1e-6f

static struct backend *be;
static const float lr_01 = 0.1f; /* the ops read the learning rate from (device) memory */

static void setup(void) { be = test_cpu_backend(); }
static void teardown(void) { be->destroy(be); }

/* ---- SGD ---- */

START_TEST(sgd_plain)
{
    /* p -= lr g: 1 - 0.1 * 0.5 = 0.95; -2 - 0.1 * 0.25 = -2.025 */
    float p[2] = {1, -2}, g[2] = {0.5f, 0.25f}, v[2] = {0};
    be->sgd_step(be, p, g, v, 2, &lr_01, 0, 0);
    ck_assert_float_eq_tol(p[0], 0.95f, TOL);
    ck_assert_float_eq_tol(p[1], -2.025f, TOL);
    ck_assert_float_eq(v[0], 0); /* no momentum: no state */
}
END_TEST

START_TEST(sgd_weight_decay)
{
    /* p -= lr (g + wd p): 1 - 0.1 * (0.5 + 0.01 * 1) = 0.949;
     * -2 - 0.1 * (0 + 0.01 * -2) = -1.998 */
    float p[2] = {1, -2}, g[2] = {0.5f, 0}, v[2] = {0};
    be->sgd_step(be, p, g, v, 2, &lr_01, 0, 0.01f);
    ck_assert_float_eq_tol(p[0], 0.949f, TOL);
    ck_assert_float_eq_tol(p[1], -1.998f, TOL);
}
END_TEST

START_TEST(sgd_momentum_three_steps)
{
    /* torch.optim.SGD, momentum 0.9, dampening 0, lr 0.1, p = 1:
     * g 0.5:  v = 0.5                 p = 1 - 0.05       = 0.95
     * g -0.2: v = 0.45 - 0.2  = 0.25  p = 0.95 - 0.025   = 0.925
     * g 0.1:  v = 0.225 + 0.1 = 0.325 p = 0.925 - 0.0325 = 0.8925 */
    static const float grads[3] = {0.5f, -0.2f, 0.1f}, want_v[3] = {0.5f, 0.25f, 0.325f},
                       want_p[3] = {0.95f, 0.925f, 0.8925f};
    float p = 1, v = 0;
    for (int t = 0; t < 3; t++) {
        be->sgd_step(be, &p, &grads[t], &v, 1, &lr_01, 0.9f, 0);
        ck_assert_float_eq_tol(v, want_v[t], TOL);
        ck_assert_float_eq_tol(p, want_p[t], TOL);
    }
}
END_TEST

START_TEST(sgd_momentum_with_weight_decay)
{
    /* decay enters before momentum, as torch: lr 0.1, momentum 0.9, wd 0.1, g 0.5
     * step 1: d = 0.5 + 0.1 * 1 = 0.6        v = 0.6                  p = 0.94
     * step 2: d = 0.5 + 0.1 * 0.94 = 0.594  v = 0.54 + 0.594 = 1.134  p = 0.94 - 0.1134 = 0.8266 */
    float p = 1, v = 0, g = 0.5f;
    be->sgd_step(be, &p, &g, &v, 1, &lr_01, 0.9f, 0.1f);
    ck_assert_float_eq_tol(p, 0.94f, TOL);
    be->sgd_step(be, &p, &g, &v, 1, &lr_01, 0.9f, 0.1f);
    ck_assert_float_eq_tol(v, 1.134f, TOL);
    ck_assert_float_eq_tol(p, 0.8266f, TOL);
}
END_TEST

/* ---- Adam ---- */

struct adam_case {
    float p0, lr;
    double beta1, beta2; /* as the spec holds them */
    float eps, wd;
    float g[3];
    float m[3], v[3], p[3]; /* after t = 1, 2, 3 */
};

/* torch.optim.Adam: d = g + wd p; m = b1 m + (1-b1) d; v = b2 v + (1-b2) d^2;
 * p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). */
static const struct adam_case adam_cases[] = {
    /* lr 0.1, betas (0.9, 0.999), eps 1e-8, p = 1:
     * t=1 g 0.5:  m = 0.05   v = 0.00025     mhat = 0.5        vhat = 0.25       p = 0.9
     * t=2 g -0.2: m = 0.025  v = 0.00028975  mhat = 0.13157895 vhat = 0.14494747 p = 0.86543942
     * t=3 g 0.1:  m = 0.0325 v = 0.00029946  mhat = 0.11992620 vhat = 0.09991997 p = 0.82750024 */
    {1, 0.1f, 0.9, 0.999, 1e-8f, 0, {0.5f, -0.2f, 0.1f},
     {0.05f, 0.025f, 0.0325f}, {0.00025f, 0.00028975f, 0.00029946025f}, {0.9f, 0.8654394181f, 0.8275002408f}},
    /* the same with weight decay 0.1 (L2 added to the gradient):
     * t=1 d = 0.5 + 0.1            = 0.6    m = 0.06  v = 0.00036  p = 0.9
     * t=2 d = -0.2 + 0.09          = -0.11  m = 0.043 v = 0.00037174  p = 0.84751906
     * t=3 d = 0.1 + 0.084751906    = 0.1847519  m = 0.05717519 v = 0.00040550 p = 0.79016218 */
    {1, 0.1f, 0.9, 0.999, 1e-8f, 0.1f, {0.5f, -0.2f, 0.1f},
     {0.06f, 0.043f, 0.05717519064f}, {0.00036f, 0.00037174f, 0.0004055015268f}, {0.9f, 0.847519063f, 0.7901621834f}},
    /* eps outside the square root: lr 0.01, betas (0.8, 0.99), eps 1e-3, p = -2:
     * t=1 g 1e-3: mhat = 1e-3, vhat = 1e-6: p = -2 - 0.01 * 1e-3 / (1e-3 + 1e-3) = -2.005
     * t=2 g 1e-3: the same step                                             p = -2.01
     * t=3 g -4:   m = -0.799712 v = 0.16000002 mhat = -1.6387541 vhat = 5.3870247 p = -2.0029425 */
    {-2, 0.01f, 0.8, 0.99, 1e-3f, 0, {1e-3f, 1e-3f, -4},
     {0.0002f, 0.00036f, -0.799712f}, {1e-8f, 1.99e-8f, 0.1600000197f}, {-2.005f, -2.01f, -2.002942478f}},
};

START_TEST(adam_three_steps)
{
    const struct adam_case *c = &adam_cases[_i];
    float p = c->p0, m = 0, v = 0;
    for (uint64_t step = 0; step < 3; step++) { /* t = step + 1 */
        be->adam_step(be, &p, &c->g[step], &m, &v, 1, &c->lr, c->beta1, c->beta2, c->eps, c->wd, &step);
        ck_assert_msg(test_rel_err(m, c->m[step], 1e-3) < 1e-5, "case %d t=%d: m %.9g want %.9g", _i,
                      (int)step + 1, m, c->m[step]);
        /* 1 - beta2 as torch has it (in double, rounded once): 1 - 0.999f in float would be
         * 1.3e-5 off, and v with it */
        ck_assert_msg(test_rel_err(v, c->v[step], 1e-7) < 1e-6, "case %d t=%d: v %.9g want %.9g", _i,
                      (int)step + 1, v, c->v[step]);
        ck_assert_msg(test_rel_err(p, c->p[step], 1.0) < 1e-6, "case %d t=%d: p %.9g want %.9g", _i,
                      (int)step + 1, p, c->p[step]);
    }
}
END_TEST

/* The bias correction reads t from *step at the call: with the state of
 * t = 1 replayed as t = 1 again, the step repeats exactly. */
START_TEST(adam_reads_step_from_memory)
{
    float p1 = 1, p2 = 1, m1 = 0, m2 = 0, v1 = 0, v2 = 0, g = 0.5f;
    uint64_t step = 0;
    be->adam_step(be, &p1, &g, &m1, &v1, 1, &lr_01, 0.9f, 0.999f, 1e-8f, 0, &step);
    be->adam_step(be, &p2, &g, &m2, &v2, 1, &lr_01, 0.9f, 0.999f, 1e-8f, 0, &step);
    ck_assert_float_eq(p1, p2);
    be->step_advance(be, &step);
    float before = p1;
    be->adam_step(be, &p1, &g, &m1, &v1, 1, &lr_01, 0.9f, 0.999f, 1e-8f, 0, &step);
    /* a constant gradient moves p by lr at every t when bias-corrected */
    ck_assert_float_eq_tol(before - p1, 0.1f, 1e-6f);
}
END_TEST

/* ---- optim_step on a model ---- */

/* One linear layer 3 -> 2 with bias, params and grads set by hand. */
struct tiny {
    struct spec s;
    struct model m;
    float p0[8], g[8];
};

static void tiny_build(struct tiny *t, enum optim_kind kind, double wd, bool decay_bias)
{
    struct err e = {0};
    memset(&t->s, 0, sizeof t->s);
    strcpy(t->s.path, "optim");
    t->s.n_layers = 1;
    t->s.layers[0] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 2, .bias = true};
    t->s.weight_init = (struct init_spec){INIT_ZEROS, 0, 0};
    t->s.optim = (struct optim_spec){.kind = kind, .lr = 0.1, .weight_decay = wd, .beta1 = 0.9, .beta2 = 0.999,
                                     .eps = 1e-8, .decay_bias = decay_bias};
    ck_assert_msg(model_build(&t->m, &t->s, be, 3, 4, &e) == 0, "model_build: %s", e.msg);
    ck_assert_uint_eq(t->m.n_params, 8);
    ck_assert_uint_eq(t->m.layers[0].b_off, 6);
    /* weights 0..5, biases 6..7; grads of -0.05 flip sign once wd * p (0.1 * 1) is added */
    static const float p0[8] = {1, 1, -1, 2, 0.5f, -3, 1, -2};
    static const float g[8] = {-0.05f, 0.3f, 0.2f, -0.1f, 0, 1, -0.05f, 0.4f};
    memcpy(t->p0, p0, sizeof p0);
    memcpy(t->g, g, sizeof g);
    be->upload(be, t->m.params, p0, sizeof p0);
    be->upload(be, t->m.grads, g, sizeof g);
}

/* The first Adam step: d / (|d| + eps) times lr (m and v bias-corrected to d, d^2). */
static double adam_first_step(double p, double d, double lr, double eps) { return p - lr * d / (fabs(d) + eps); }

/* Weight decay 0.1 on the weights, and on the biases only with
 * decay_bias: SGD's step and Adam's first step on each parameter. */
START_TEST(optim_step_decay_bias)
{
    static const enum optim_kind kinds[2] = {OPT_SGD, OPT_ADAM};
    enum optim_kind kind = kinds[_i];
    for (int decay_bias = 0; decay_bias < 2; decay_bias++) {
        struct tiny t;
        tiny_build(&t, kind, 0.1, decay_bias);
        uint64_t step = 0;
        optim_step(&t.m, &t.s.optim, &lr_01, &step);
        float got[8];
        be->download(be, got, t.m.params, sizeof got);
        for (int j = 0; j < 8; j++) {
            double wd = j < 6 || decay_bias ? 0.1 : 0, d = t.g[j] + wd * t.p0[j];
            double want = kind == OPT_SGD ? t.p0[j] - 0.1 * d : adam_first_step(t.p0[j], d, 0.1, 1e-8);
            ck_assert_msg(test_rel_err(got[j], want, 1.0) < 1e-6, "decay_bias=%d param %d: %.8g want %.8g",
                          decay_bias, j, got[j], want);
        }
        model_free(&t.m);
    }
}
END_TEST

/* With weight decay 0 every parameter takes the plain step, whatever
 * decay_bias says. */
START_TEST(optim_step_no_decay)
{
    struct tiny t;
    tiny_build(&t, OPT_SGD, 0, false);
    uint64_t step = 0;
    optim_step(&t.m, &t.s.optim, &lr_01, &step);
    float got[8];
    be->download(be, got, t.m.params, sizeof got);
    for (int j = 0; j < 8; j++)
        ck_assert_float_eq_tol(got[j], t.p0[j] - 0.1f * t.g[j], TOL);
    model_free(&t.m);
}
END_TEST

Suite *suite_optim(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("steps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sgd_plain);
    tcase_add_test(tc, sgd_weight_decay);
    tcase_add_test(tc, sgd_momentum_three_steps);
    tcase_add_test(tc, sgd_momentum_with_weight_decay);
    tcase_add_loop_test(tc, adam_three_steps, 0, (int)(sizeof adam_cases / sizeof adam_cases[0]));
    tcase_add_test(tc, adam_reads_step_from_memory);
    tcase_add_loop_test(tc, optim_step_decay_bias, 0, 2); /* SGD, Adam */
    tcase_add_test(tc, optim_step_no_decay);
    suite_add_tcase(s, tc);
    return s;
}
