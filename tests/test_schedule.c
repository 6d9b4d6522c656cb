/* train: lr_schedule against torch.optim.lr_scheduler's values worked out
 * by hand, clip_grad_norm against a norm computed here over the model's
 * unique trainable tensors, and the train keys' spec checks. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/model.h"
#include "../core/objective.h"
#include "../core/schedule.h"
#include "testutil.h"

/* StepLR(step_size=3, gamma=0.1) from lr 0.5, stepped once per epoch. */
START_TEST(step_schedule_as_steplr)
{
    struct lr_schedule_spec l = {.kind = LR_STEP, .every = 3, .gamma = 0.1};
    static const double want[10] = {0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005, 0.005, 0.005, 0.0005};
    for (int epoch = 1; epoch <= 10; epoch++) {
        double got = lr_at_epoch(&l, 0.5, epoch, 10);
        ck_assert_msg(fabs(got - want[epoch - 1]) <= 1e-15 * want[epoch - 1], "epoch %d: %.17g want %.17g", epoch,
                      got, want[epoch - 1]);
    }
}
END_TEST

/* Warmup 2 then CosineAnnealingLR(T_max=4): torch gives 0.1,
 * 0.08535533905932738, 0.05, 0.014644660940672627 for T_cur 0..3. */
START_TEST(cosine_schedule_with_warmup)
{
    struct lr_schedule_spec l = {.kind = LR_COSINE, .warmup = 2};
    static const double want[6] = {0.05, 0.1, 0.1, 0.08535533905932738, 0.05, 0.014644660940672627};
    for (int epoch = 1; epoch <= 6; epoch++) {
        double got = lr_at_epoch(&l, 0.1, epoch, 6);
        ck_assert_msg(fabs(got - want[epoch - 1]) <= 1e-15, "epoch %d: %.17g want %.17g", epoch, got,
                      want[epoch - 1]);
    }
    /* eta_min: halfway between min_lr and lr at T_cur = T_max / 2 */
    l = (struct lr_schedule_spec){.kind = LR_COSINE, .min_lr = 0.02};
    ck_assert_double_eq_tol(lr_at_epoch(&l, 0.1, 3, 4), 0.06, 1e-15);
    ck_assert_double_eq(lr_at_epoch(&l, 0.1, 1, 4), 0.1);
}
END_TEST

START_TEST(constant_schedule)
{
    struct lr_schedule_spec l = {.kind = LR_CONSTANT};
    ck_assert_double_eq(lr_at_epoch(&l, 0.3, 7, 10), 0.3);
}
END_TEST

/* 3 -> 2 (named t) -> 2 (share t) -> 1 (frozen): the tied tensor once, the
 * frozen one not at all. */
static const char clip_yaml[] = "data: {dataset: synthetic_linear, w: [1, 2, 3], b: 0, n_train: 8}\n"
                                "model:\n"
                                "  - linear: {out: 2}\n"
                                "  - linear: {name: t, out: 2}\n"
                                "  - linear: {share: t}\n"
                                "  - linear: {out: 1, trainable: false}\n"
                                "loss: mse\n"
                                "optimizer: {sgd: {lr: 0.1}}\n"
                                "train: {epochs: 1, clip_grad_norm: 1.5}\n";

struct clip_case {
    struct backend *be;
    struct spec s;
    struct model m;
    float *g0;
};

static void clip_setup(struct clip_case *c, float scale)
{
    struct err e = {0};
    c->be = test_cpu_backend();
    ck_assert_msg(spec_load_string(&c->s, "clip.yaml", clip_yaml, strlen(clip_yaml), NULL, 0, &e) == 0, "%s", e.msg);
    ck_assert_msg(model_build(&c->m, &c->s, c->be, 3, 8, &e) == 0, "%s", e.msg);
    /* 3*2+2, 2*2+2 (tied), 2*1+1 (frozen) */
    ck_assert_int_eq(c->m.n_tensors, 6);
    ck_assert_uint_eq(c->m.n_params, 8 + 6 + 3);
    c->g0 = malloc(c->m.n_params * sizeof *c->g0);
    for (size_t i = 0; i < c->m.n_params; i++)
        c->g0[i] = scale * (float)((int)(i % 5) - 2) / 4; /* -0.5 .. 0.5 */
    memcpy(c->m.grads, c->g0, c->m.n_params * sizeof *c->g0);
}

static void clip_teardown(struct clip_case *c)
{
    free(c->g0);
    model_free(&c->m);
    c->be->destroy(c->be);
}

/* The norm of the trainable gradient: the first 14 floats, by hand. */
static double trainable_norm(const float *g)
{
    double sq = 0;
    for (int i = 0; i < 14; i++)
        sq += (double)g[i] * g[i];
    return sqrt(sq);
}

START_TEST(clip_scales_to_max_norm)
{
    struct clip_case c;
    clip_setup(&c, 4);
    double norm = trainable_norm(c.g0); /* values of +-2, +-1, 0: well above 1.5 */
    ck_assert_double_gt(norm, 1.5);
    double sq;
    clip_grads(&c.m, 1.5, &sq);
    ck_assert_double_eq_tol(sqrt(sq), norm, 1e-12);
    double coef = 1.5 / (norm + 1e-6);
    for (int i = 0; i < 14; i++)
        ck_assert_float_eq_tol(c.m.grads[i], (float)(c.g0[i] * coef), 1e-6f);
    ck_assert_double_eq_tol(trainable_norm(c.m.grads), 1.5, 1e-5);
    for (size_t i = 14; i < c.m.n_params; i++) /* frozen: neither counted nor scaled */
        ck_assert_float_eq(c.m.grads[i], c.g0[i]);
    clip_teardown(&c);
}
END_TEST

START_TEST(clip_leaves_small_gradients)
{
    struct clip_case c;
    clip_setup(&c, 0.25f);
    ck_assert_double_lt(trainable_norm(c.g0), 1.5);
    double sq;
    clip_grads(&c.m, 1.5, &sq);
    ck_assert_mem_eq(c.m.grads, c.g0, c.m.n_params * sizeof *c.g0);
    clip_teardown(&c);
}
END_TEST

Suite *suite_schedule(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, step_schedule_as_steplr);
    tcase_add_test(tc, cosine_schedule_with_warmup);
    tcase_add_test(tc, constant_schedule);
    tcase_add_test(tc, clip_scales_to_max_norm);
    tcase_add_test(tc, clip_leaves_small_gradients);
    suite_add_tcase(s, tc);
    return s;
}
