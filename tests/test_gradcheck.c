/* Finite-difference gradient checks. Small models go through the real code
 * path (model_build, model_forward, loss_apply, model_backward,
 * penalty_apply, optim_step); a float64 forward written here computes the
 * same objective, and its central differences must match the float32
 * analytic gradient in m.grads.
 *
 * Tolerances: the reference is float64, so with h = 1e-5 the central
 * difference is exact to ~1e-10 (rounding ~1e-16/h, truncation ~h^2). The
 * analytic gradient is float32 through a few dozen roundings and short
 * sums, ~1e-6 relative. A relative error of 1e-3 (absolute below 1e-2)
 * leaves room for that and still fails on any wrong formula: a lost
 * factor 2, a missing 1/rows, a sign, a transposed index or a stale mask
 * are all O(1) errors. Inputs avoid kinks (relu at 0, |residual| = delta
 * for huber, 0 for l1) by chance: the data are random and fixed-seed. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/objective.h"
#include "testutil.h"

#define FD_STEP 1e-5
#define GRAD_TOL 1e-3
#define GRAD_FLOOR 1e-2
#define DROPOUT_STEP 5 /* the optimizer step the dropout masks are drawn for */

static void spec_init(struct spec *s, enum loss_kind loss)
{
    memset(s, 0, sizeof *s);
    strcpy(s->path, "gradcheck");
    s->seed = 7;
    s->weight_init = (struct init_spec){INIT_NORMAL, 0, 0.5};
    s->bias_init = (struct init_spec){INIT_NORMAL, 0, 0.5}; /* nonzero biases: their gradients matter */
    s->loss = (struct loss_spec){.kind = loss, .delta = 1.0};
    s->optim = (struct optim_spec){.kind = OPT_SGD, .lr = 0.5, .decay_bias = true};
}

static void add_layer(struct spec *s, enum layer_kind kind, int out, bool bias, double p)
{
    s->layers[s->n_layers++] = (struct layer_spec){.kind = kind, .out = out, .bias = bias, .p = p};
}

static void add_linear(struct spec *s, int out) { add_layer(s, LAYER_LINEAR, out, true, 0); }

static bool is_classification(enum loss_kind k) { return k == LOSS_CROSS_ENTROPY || k == LOSS_NLL; }

/* ---- the float64 reference ---- */

/* The loss of one row, from the model output row z. */
static double ref_row_loss(const struct loss_spec *loss, const double *z, const float *y, int cols)
{
    if (loss->kind == LOSS_CROSS_ENTROPY || loss->kind == LOSS_NLL) {
        int label = (int)y[0];
        if (loss->kind == LOSS_NLL)
            return -log(z[label]);
        double max = z[0], sum = 0;
        for (int c = 1; c < cols; c++)
            max = z[c] > max ? z[c] : max;
        for (int c = 0; c < cols; c++)
            sum += exp(z[c] - max);
        return max + log(sum) - z[label];
    }
    double total = 0, delta = loss->delta;
    for (int c = 0; c < cols; c++) {
        double d = z[c] - y[c], ad = fabs(d);
        switch (loss->kind) {
        case LOSS_MSE:
            total += d * d;
            break;
        case LOSS_SQUARED:
            total += d * d / 2;
            break;
        case LOSS_HUBER:
            total += ad < delta ? d * d / 2 : delta * (ad - delta / 2);
            break;
        default:
            total += ad;
            break;
        }
    }
    return total;
}

/* The explicit penalty on the weights (not biases) of params theta. */
static double ref_penalty(const struct model *m, const struct penalty_spec *pen, const double *theta)
{
    double sum = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const struct layer *l = &m->layers[i];
        if (l->kind != LAYER_LINEAR || l->owner != i || pen->kind == PENALTY_NONE) /* a tied weight once */
            continue;
        for (size_t j = l->w_off; j < l->w_off + (size_t)l->in * l->out; j++)
            sum += pen->kind == PENALTY_L1 ? fabs(theta[j]) : theta[j] * theta[j] / 2;
    }
    return pen->lambda * sum;
}

/* Mean loss over the rows of the model's layers with parameters theta, in
 * float64. Layer widths and parameter offsets come from m; dropout masks
 * are drawn here from dropout_uniform, numbering the dropout layers in
 * order. */
static double ref_loss(const struct model *m, const struct spec *s, const double *theta, const float *x,
                       const float *y, int rows, bool training)
{
    int widest = m->in_width;
    for (int i = 0; i < m->n_layers; i++)
        widest = m->layers[i].out > widest ? m->layers[i].out : widest;
    double *cur = calloc((size_t)rows * widest, sizeof *cur), *next = calloc((size_t)rows * widest, sizeof *next);
    for (int i = 0; i < rows * m->in_width; i++)
        cur[i] = x[i];
    uint32_t dropout_id = 0;
    for (int li = 0; li < m->n_layers; li++) {
        const struct layer *l = &m->layers[li];
        size_t n = (size_t)rows * l->out;
        switch (l->kind) {
        case LAYER_FLATTEN:
            memcpy(next, cur, n * sizeof *next);
            break;
        case LAYER_LINEAR:
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < l->out; o++) {
                    double sum = l->bias ? theta[l->b_off + o] : 0;
                    for (int k = 0; k < l->in; k++)
                        sum += cur[(size_t)r * l->in + k] * theta[l->w_off + (size_t)o * l->in + k];
                    next[(size_t)r * l->out + o] = sum;
                }
            break;
        case LAYER_RELU:
            for (size_t j = 0; j < n; j++)
                next[j] = cur[j] > 0 ? cur[j] : 0;
            break;
        case LAYER_SIGMOID:
            for (size_t j = 0; j < n; j++)
                next[j] = 1 / (1 + exp(-cur[j]));
            break;
        case LAYER_TANH:
            for (size_t j = 0; j < n; j++)
                next[j] = tanh(cur[j]);
            break;
        case LAYER_DROPOUT: /* the identity in evaluation */
            for (size_t j = 0; j < n; j++) {
                double scale = 1;
                if (training)
                    scale = dropout_uniform(s->seed, dropout_id, DROPOUT_STEP, j) >= l->p ? 1 / (1 - (double)l->p) : 0;
                next[j] = cur[j] * scale;
            }
            dropout_id++;
            break;
        case LAYER_SOFTMAX:
            for (int r = 0; r < rows; r++) {
                const double *z = cur + (size_t)r * l->out;
                double max = z[0], sum = 0;
                for (int c = 1; c < l->out; c++)
                    max = z[c] > max ? z[c] : max;
                for (int c = 0; c < l->out; c++)
                    sum += exp(z[c] - max);
                for (int c = 0; c < l->out; c++)
                    next[(size_t)r * l->out + c] = exp(z[c] - max) / sum;
            }
            break;
        case LAYER_CENTERED:
            for (int r = 0; r < rows; r++) {
                double mean = 0;
                for (int c = 0; c < l->out; c++)
                    mean += cur[(size_t)r * l->out + c] / l->out;
                for (int c = 0; c < l->out; c++)
                    next[(size_t)r * l->out + c] = cur[(size_t)r * l->out + c] - mean;
            }
            break;
        case LAYER_PLUGIN: /* tested against the built-in layers instead (test_blocks.c) */
        case LAYER_KIND_COUNT:
            break;
        }
        double *t = cur;
        cur = next;
        next = t;
    }
    double total = 0;
    int cols = m->out_width, y_width = is_classification(s->loss.kind) ? 1 : cols;
    for (int r = 0; r < rows; r++)
        total += ref_row_loss(&s->loss, cur + (size_t)r * cols, y + (size_t)r * y_width, cols);
    free(cur);
    free(next);
    return total / rows;
}

/* The objective as training sees it: mean loss, the spec's penalty and,
 * when wd != 0, wd/2 |theta|^2 over the decayed parameters. */
struct objective {
    const struct model *m;
    const struct spec *s;
    const float *x, *y;
    int rows;
    bool training;
    double wd;
    bool decay_bias;
};

static double ref_objective(const struct objective *o, const double *theta)
{
    double f = ref_loss(o->m, o->s, theta, o->x, o->y, o->rows, o->training) + ref_penalty(o->m, &o->s->penalty, theta);
    for (int i = 0; i < o->m->n_layers && o->wd != 0; i++) {
        const struct layer *l = &o->m->layers[i];
        if (l->kind != LAYER_LINEAR || l->owner != i)
            continue;
        size_t end = l->w_off + (size_t)l->in * l->out + (l->bias && o->decay_bias ? (size_t)l->out : 0);
        for (size_t j = l->w_off; j < end; j++)
            f += o->wd / 2 * theta[j] * theta[j];
    }
    return f;
}

/* Compares got[j] with the central difference of the objective in every
 * parameter. */
static bool param_frozen(const struct model *m, size_t j)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (j >= m->tensors[i].off && j < m->tensors[i].off + tensor_count(&m->tensors[i]))
            return m->tensors[i].frozen;
    return false;
}

/* Frozen parameters are skipped: they have no gradient. */
static void check_against_fd(const struct objective *o, const float *params, const float *got, const char *what)
{
    size_t n = o->m->n_params;
    double *theta = malloc(n * sizeof *theta);
    for (size_t j = 0; j < n; j++)
        theta[j] = params[j];
    for (size_t j = 0; j < n; j++) {
        if (param_frozen(o->m, j))
            continue;
        theta[j] = params[j] + FD_STEP;
        double up = ref_objective(o, theta);
        theta[j] = params[j] - FD_STEP;
        double down = ref_objective(o, theta);
        theta[j] = params[j];
        double numeric = (up - down) / (2 * FD_STEP);
        ck_assert_msg(test_rel_err(got[j], numeric, GRAD_FLOOR) < GRAD_TOL,
                      "%s: d/dparam[%zu] analytic %.8g numeric %.8g", what, j, got[j], numeric);
    }
    free(theta);
}

/* ---- running the real code ---- */

struct run {
    struct backend *be;
    struct model m;
    float *x, *y;
    int rows;
    double acc[ACC_SLOTS];
};

/* Builds the model of s, draws inputs and targets, and runs forward, loss,
 * backward and the penalty. */
static void run_model(struct run *r, const struct spec *s, int in_width, int rows, bool training)
{
    struct err e = {0};
    memset(r, 0, sizeof *r);
    r->be = test_cpu_backend();
    ck_assert_msg(model_build(&r->m, s, r->be, in_width, rows + 3, &e) == 0, "model_build: %s", e.msg);
    int cols = r->m.out_width, y_width = is_classification(s->loss.kind) ? 1 : cols;
    r->rows = rows;
    r->x = malloc((size_t)rows * in_width * sizeof *r->x);
    r->y = malloc((size_t)rows * y_width * sizeof *r->y);
    uint64_t rng = 1234 + (uint64_t)s->n_layers * 31 + (uint64_t)s->loss.kind;
    test_fill_uniform(r->x, (size_t)rows * in_width, &rng, -1.5, 1.5);
    for (int i = 0; i < rows * y_width; i++)
        r->y[i] = is_classification(s->loss.kind) ? (float)(test_rand_u64(&rng) % (uint64_t)cols)
                                                  : (float)test_rand_uniform(&rng, -2, 2);
    uint64_t step = DROPOUT_STEP;
    const float *out = model_forward(&r->m, r->x, rows, training, &step);
    loss_apply(&r->m, &s->loss, r->acc, out, r->y, rows, rows, true);
    model_backward(&r->m, r->x, rows);
    penalty_apply(&r->m, &s->penalty, r->acc, rows, 1.0f);
}

static void run_free(struct run *r)
{
    model_free(&r->m);
    r->be->destroy(r->be);
    free(r->x);
    free(r->y);
}

/* Gradients of mean loss + penalty of the model of s, against the float64
 * reference; also the accumulated loss and penalty against it. */
static void check_model(const struct spec *s, int in_width, int rows, bool training, const char *what)
{
    struct run r;
    run_model(&r, s, in_width, rows, training);
    struct objective o = {&r.m, s, r.x, r.y, rows, training, 0, true};
    double *theta = malloc(r.m.n_params * sizeof *theta);
    for (size_t j = 0; j < r.m.n_params; j++)
        theta[j] = r.m.params[j];
    double want_loss = ref_loss(&r.m, s, theta, r.x, r.y, rows, training);
    double want_penalty = ref_penalty(&r.m, &s->penalty, theta);
    free(theta);
    ck_assert_msg(test_rel_err(r.acc[ACC_LOSS] / rows, want_loss, 1.0) < 1e-5, "%s: loss %.8g want %.8g", what,
                  r.acc[ACC_LOSS] / rows, want_loss);
    ck_assert_double_eq(r.acc[ACC_COUNT], rows);
    ck_assert_msg(test_rel_err(r.acc[ACC_PENALTY] / rows, want_penalty, 1.0) < 1e-5, "%s: penalty %.8g want %.8g",
                  what, r.acc[ACC_PENALTY] / rows, want_penalty);
    check_against_fd(&o, r.m.params, r.m.grads, what);
    run_free(&r);
}

/* ---- layers (each between two linear layers, so its backward feeds the
 * first layer's gradients) ---- */

START_TEST(linear_with_bias)
{
    struct spec s;
    spec_init(&s, LOSS_MSE);
    add_linear(&s, 3);
    check_model(&s, 4, 5, true, "linear with bias");
}
END_TEST

START_TEST(linear_without_bias)
{
    struct spec s;
    spec_init(&s, LOSS_SQUARED);
    add_layer(&s, LAYER_LINEAR, 5, false, 0);
    add_layer(&s, LAYER_TANH, 0, false, 0);
    add_layer(&s, LAYER_LINEAR, 2, false, 0);
    check_model(&s, 3, 4, true, "linear without bias");
}
END_TEST

static void check_middle_layer(enum layer_kind kind, enum loss_kind loss, const char *what)
{
    struct spec s;
    spec_init(&s, loss);
    add_linear(&s, 6);
    add_layer(&s, kind, 0, false, 0);
    add_linear(&s, 3);
    check_model(&s, 4, 7, true, what);
}

START_TEST(relu_layer) { check_middle_layer(LAYER_RELU, LOSS_CROSS_ENTROPY, "relu"); }
END_TEST

START_TEST(sigmoid_layer) { check_middle_layer(LAYER_SIGMOID, LOSS_CROSS_ENTROPY, "sigmoid"); }
END_TEST

START_TEST(tanh_layer) { check_middle_layer(LAYER_TANH, LOSS_MSE, "tanh"); }
END_TEST

START_TEST(softmax_layer) { check_middle_layer(LAYER_SOFTMAX, LOSS_SQUARED, "softmax"); }
END_TEST

START_TEST(centered_layer) { check_middle_layer(LAYER_CENTERED, LOSS_MSE, "centered"); }
END_TEST

/* d2l 5.2's shared layer: one 6 -> 6 tensor used twice (three times here,
 * with a tied layer without bias as well), its gradient the sum over the
 * uses; the L2 penalty and weight decay count it once. */
static void tied_model(struct spec *s)
{
    spec_init(s, LOSS_MSE);
    s->penalty = (struct penalty_spec){PENALTY_L2, 0.3};
    add_linear(s, 6);
    add_layer(s, LAYER_TANH, 0, false, 0);
    add_linear(s, 6);
    strcpy(s->layers[2].name, "shared");
    add_layer(s, LAYER_TANH, 0, false, 0);
    add_linear(s, 6);
    strcpy(s->layers[4].share, "shared");
    s->layers[4].owner = 2;
    add_layer(s, LAYER_CENTERED, 0, false, 0);
    add_linear(s, 6);
    strcpy(s->layers[6].share, "shared");
    s->layers[6].owner = 2;
    add_layer(s, LAYER_SIGMOID, 0, false, 0);
    add_linear(s, 2);
}

START_TEST(tied_layers_sum_their_gradients)
{
    struct spec s;
    tied_model(&s);
    check_model(&s, 4, 5, true, "tied");
    struct run r;
    run_model(&r, &s, 4, 5, true);
    ck_assert_uint_eq(r.m.n_params, 4 * 6 + 6 + 6 * 6 + 6 + 6 * 2 + 2); /* the tied tensor counted once */
    ck_assert_int_eq(r.m.n_tensors, 6);
    ck_assert_uint_eq(r.m.layers[4].w_off, r.m.layers[2].w_off);
    ck_assert(r.m.layers[2].accumulate && r.m.layers[4].accumulate && !r.m.layers[6].accumulate);
    run_free(&r);
}
END_TEST

/* Flatten first: the input passes through unchanged. */
START_TEST(flatten_layer)
{
    struct spec s;
    spec_init(&s, LOSS_CROSS_ENTROPY);
    add_layer(&s, LAYER_FLATTEN, 0, false, 0);
    add_linear(&s, 5);
    add_layer(&s, LAYER_RELU, 0, false, 0);
    add_layer(&s, LAYER_FLATTEN, 0, false, 0);
    add_linear(&s, 4);
    check_model(&s, 12, 6, true, "flatten");
}
END_TEST

/* An activation last, on a single-row batch: the loss gradient enters
 * through the activation's backward. */
START_TEST(activation_last_one_row)
{
    struct spec s;
    spec_init(&s, LOSS_SQUARED);
    add_linear(&s, 3);
    add_layer(&s, LAYER_SIGMOID, 0, false, 0);
    check_model(&s, 4, 1, true, "sigmoid last, one row");
}
END_TEST

/* Two dropout layers with different masks; at a fixed step the masks are
 * fixed, so the function is deterministic and differentiable. */
START_TEST(dropout_layers_training)
{
    struct spec s;
    spec_init(&s, LOSS_CROSS_ENTROPY);
    add_linear(&s, 8);
    add_layer(&s, LAYER_RELU, 0, false, 0);
    add_layer(&s, LAYER_DROPOUT, 0, false, 0.3);
    add_linear(&s, 7);
    add_layer(&s, LAYER_DROPOUT, 0, false, 0.5);
    add_linear(&s, 3);
    check_model(&s, 5, 9, true, "dropout (training)");
}
END_TEST

/* In evaluation dropout is the identity. */
START_TEST(dropout_layer_eval)
{
    struct spec s;
    spec_init(&s, LOSS_MSE);
    add_linear(&s, 6);
    add_layer(&s, LAYER_DROPOUT, 0, false, 0.5);
    add_linear(&s, 2);
    check_model(&s, 4, 5, false, "dropout (eval)");
}
END_TEST

/* ---- losses ---- */

#define LOSS_IN 3
#define LOSS_ROWS 8

static void loss_model(struct spec *s, enum loss_kind loss, double delta, bool softmax_last)
{
    spec_init(s, loss);
    s->loss.delta = delta;
    add_linear(s, 5);
    add_layer(s, LAYER_TANH, 0, false, 0);
    add_linear(s, is_classification(loss) ? 4 : 2); /* regression: the loss sums two columns */
    if (softmax_last)
        add_layer(s, LAYER_SOFTMAX, 0, false, 0);
}

static void check_loss(enum loss_kind loss, double delta, bool softmax_last, const char *what)
{
    struct spec s;
    loss_model(&s, loss, delta, softmax_last);
    check_model(&s, LOSS_IN, LOSS_ROWS, true, what);
}

START_TEST(loss_cross_entropy) { check_loss(LOSS_CROSS_ENTROPY, 1, false, "cross_entropy"); }
END_TEST

START_TEST(loss_nll_after_softmax) { check_loss(LOSS_NLL, 1, true, "nll"); }
END_TEST

START_TEST(loss_mse) { check_loss(LOSS_MSE, 1, false, "mse"); }
END_TEST

START_TEST(loss_squared) { check_loss(LOSS_SQUARED, 1, false, "squared"); }
END_TEST

/* delta 0.7 puts residuals on both sides of the huber kink. */
START_TEST(loss_huber)
{
    check_loss(LOSS_HUBER, 0.7, false, "huber");
    struct spec s;
    loss_model(&s, LOSS_HUBER, 0.7, false);
    struct run r;
    run_model(&r, &s, LOSS_IN, LOSS_ROWS, true);
    const float *out = r.m.layers[r.m.n_layers - 1].y;
    int inside = 0, n = LOSS_ROWS * r.m.out_width;
    for (int i = 0; i < n; i++)
        inside += fabsf(out[i] - r.y[i]) < 0.7f;
    ck_assert_msg(inside > 0 && inside < n, "%d of %d residuals inside delta: one branch only", inside, n);
    run_free(&r);
}
END_TEST

START_TEST(loss_l1) { check_loss(LOSS_L1, 1, false, "l1"); }
END_TEST

/* ---- penalties and weight decay ---- */

static void check_penalty(enum penalty_kind kind, const char *what)
{
    struct spec s;
    spec_init(&s, LOSS_MSE);
    s.penalty = (struct penalty_spec){kind, 0.3};
    add_linear(&s, 4);
    add_layer(&s, LAYER_SIGMOID, 0, false, 0);
    add_linear(&s, 2);
    check_model(&s, 3, 6, true, what);
}

START_TEST(penalty_l2) { check_penalty(PENALTY_L2, "l2 penalty"); }
END_TEST

START_TEST(penalty_l1) { check_penalty(PENALTY_L1, "l1 penalty"); }
END_TEST

/* SGD with weight decay moves the parameters by lr * d/dp (loss +
 * wd/2 |p|^2), over the decayed parameters only. */
static void check_weight_decay(bool decay_bias, bool tied, const char *what)
{
    struct spec s;
    if (tied) {
        tied_model(&s);
        s.penalty.kind = PENALTY_NONE;
    } else {
        spec_init(&s, LOSS_MSE);
        add_linear(&s, 4);
        add_layer(&s, LAYER_TANH, 0, false, 0);
        add_linear(&s, 2);
    }
    s.optim.weight_decay = 0.2;
    s.optim.decay_bias = decay_bias;
    struct run r;
    run_model(&r, &s, 3, 5, true);
    size_t n = r.m.n_params;
    float *before = malloc(n * sizeof *before), *moved = malloc(n * sizeof *moved);
    memcpy(before, r.m.params, n * sizeof *before);
    uint64_t step = 0;
    float lr = (float)s.optim.lr;
    optim_step(&r.m, &s.optim, &lr, &step);
    for (size_t j = 0; j < n; j++)
        moved[j] = (float)(((double)before[j] - r.m.params[j]) / s.optim.lr);
    struct objective o = {&r.m, &s, r.x, r.y, r.rows, true, s.optim.weight_decay, decay_bias};
    check_against_fd(&o, before, moved, what);
    free(before);
    free(moved);
    run_free(&r);
}

START_TEST(sgd_weight_decay_all) { check_weight_decay(true, false, "weight decay (biases too)"); }
END_TEST

START_TEST(sgd_weight_decay_weights_only) { check_weight_decay(false, false, "weight decay (weights only)"); }
END_TEST

/* A tied tensor is updated once per step, decayed once. */
START_TEST(sgd_weight_decay_tied) { check_weight_decay(true, true, "weight decay (tied)"); }
END_TEST

/* Frozen tensors: the others' gradients are right, theirs are not computed
 * (left at zero) and the optimizer leaves them alone. */
START_TEST(frozen_layers_get_no_gradient)
{
    struct spec s;
    tied_model(&s);
    s.layers[0].frozen = true;
    struct run r;
    run_model(&r, &s, 4, 5, true);
    ck_assert_int_eq(r.m.first_trainable, 2);
    for (size_t j = 0; j < 4 * 6 + 6; j++)
        ck_assert_float_eq(r.m.grads[j], 0);
    struct objective o = {&r.m, &s, r.x, r.y, r.rows, true, 0, true};
    check_against_fd(&o, r.m.params, r.m.grads, "frozen first layer");
    float *before = malloc(r.m.n_params * sizeof *before);
    memcpy(before, r.m.params, r.m.n_params * sizeof *before);
    uint64_t step = 0;
    float lr = (float)s.optim.lr;
    s.optim.weight_decay = 0.5;
    optim_step(&r.m, &s.optim, &lr, &step);
    ck_assert_mem_eq(r.m.params, before, (4 * 6 + 6) * sizeof *before);
    ck_assert(memcmp(r.m.params + 30, before + 30, (r.m.n_params - 30) * sizeof *before) != 0);
    free(before);
    run_free(&r);
}
END_TEST

/* ---- op-level input gradients: backward ops against central differences
 * of the float64 function, L(x) = sum dout * f(x) ---- */

static double ref_weighted_act(enum activation act, const double *x, const float *dout, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double f = act == ACT_RELU ? (x[i] > 0 ? x[i] : 0) : act == ACT_SIGMOID ? 1 / (1 + exp(-x[i])) : tanh(x[i]);
        sum += dout[i] * f;
    }
    return sum;
}

static double ref_weighted_softmax(const double *x, const float *dout, int rows, int cols)
{
    double total = 0;
    for (int r = 0; r < rows; r++) {
        const double *z = x + (size_t)r * cols;
        double sum = 0;
        for (int c = 0; c < cols; c++)
            sum += exp(z[c]);
        for (int c = 0; c < cols; c++)
            total += dout[(size_t)r * cols + c] * exp(z[c]) / sum;
    }
    return total;
}

START_TEST(backward_ops_input_gradients)
{
    enum { ROWS = 3, COLS = 5, N = ROWS * COLS };
    struct backend *be = test_cpu_backend();
    float x[N], y[N], dout[N], din[N];
    double xd[N];
    uint64_t rng = 99;
    test_fill_uniform(x, N, &rng, -3, 3);
    test_fill_uniform(dout, N, &rng, -1, 1);
    for (int a = 0; a <= 3; a++) { /* three activations, then softmax */
        if (a < 3) {
            be->act_forward(be, (enum activation)a, y, x, N);
            be->act_backward(be, (enum activation)a, din, y, dout, N);
        } else {
            be->softmax_forward(be, y, x, ROWS, COLS);
            be->softmax_backward(be, din, y, dout, ROWS, COLS);
        }
        for (int i = 0; i < N; i++)
            xd[i] = x[i];
        for (int i = 0; i < N; i++) {
            double f[2];
            for (int side = 0; side < 2; side++) {
                xd[i] = x[i] + (side ? -FD_STEP : FD_STEP);
                f[side] = a < 3 ? ref_weighted_act((enum activation)a, xd, dout, N)
                                : ref_weighted_softmax(xd, dout, ROWS, COLS);
            }
            xd[i] = x[i];
            double numeric = (f[0] - f[1]) / (2 * FD_STEP);
            ck_assert_msg(test_rel_err(din[i], numeric, GRAD_FLOOR) < GRAD_TOL, "op %d: d/dx[%d] %g vs %g", a, i,
                          din[i], numeric);
        }
    }
    be->destroy(be);
}
END_TEST

Suite *suite_gradcheck(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *layers = tcase_create("layers");
    tcase_add_test(layers, linear_with_bias);
    tcase_add_test(layers, linear_without_bias);
    tcase_add_test(layers, relu_layer);
    tcase_add_test(layers, sigmoid_layer);
    tcase_add_test(layers, tanh_layer);
    tcase_add_test(layers, softmax_layer);
    tcase_add_test(layers, centered_layer);
    tcase_add_test(layers, tied_layers_sum_their_gradients);
    tcase_add_test(layers, flatten_layer);
    tcase_add_test(layers, activation_last_one_row);
    tcase_add_test(layers, dropout_layers_training);
    tcase_add_test(layers, dropout_layer_eval);
    tcase_add_test(layers, backward_ops_input_gradients);
    suite_add_tcase(s, layers);
    TCase *losses = tcase_create("losses");
    tcase_add_test(losses, loss_cross_entropy);
    tcase_add_test(losses, loss_nll_after_softmax);
    tcase_add_test(losses, loss_mse);
    tcase_add_test(losses, loss_squared);
    tcase_add_test(losses, loss_huber);
    tcase_add_test(losses, loss_l1);
    suite_add_tcase(s, losses);
    TCase *reg = tcase_create("regularization");
    tcase_add_test(reg, penalty_l2);
    tcase_add_test(reg, penalty_l1);
    tcase_add_test(reg, sgd_weight_decay_all);
    tcase_add_test(reg, sgd_weight_decay_weights_only);
    tcase_add_test(reg, sgd_weight_decay_tied);
    tcase_add_test(reg, frozen_layers_get_no_gradient);
    suite_add_tcase(s, reg);
    return s;
}
