/* The CPU backend: GEMMs through oneDNN (core/cpu_gemm.c), everything
 * else plain loops, the training step's larger ones split across the
 * calling thread's team (core/cpu_team.h). It is also the oracle the GPU
 * backend is tested against. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "../data/big_alloc.h"
#include "cpu_dropout.h"
#include "cpu_gemm.h"
#include "cpu_team.h"
#include "terms.h"

/* The backend's one setting; the GEMM caches are per thread, so threads
 * may share the backend. */
struct cpu_impl {
    bool bf16; /* oneDNN fpmath mode bf16 for the GEMMs, else strict FP32 */
};

static size_t rows_per_block(int cols)
{
    return cols < CPU_TEAM_BLOCK_FLOATS ? CPU_TEAM_BLOCK_FLOATS / (size_t)cols : 1;
}

static bool bf16_of(const struct backend *be) { return ((const struct cpu_impl *)be->impl)->bf16; }

static void *cpu_alloc(struct backend *be, size_t bytes, struct err *e)
{
    void *p = big_alloc(bytes);
    if (p)
        memset(p, 0, bytes); /* zeroed, as this backend's memory always was */
    if (!p)
        err_set(e, EXIT_RUNTIME, "out of memory: asked for %zu bytes (%.1f MiB); try a smaller data.batch_size",
                bytes, bytes / 1048576.0);
    return p;
}

static void cpu_release(struct backend *be, void *p) { free(p); }

static void cpu_copy(struct backend *be, void *dst, const void *src, size_t bytes)
{
    if (bytes)
        memcpy(dst, src, bytes);
}

static void cpu_graph_run(struct backend *be, int key, void (*body)(void *), void *arg) { body(arg); }

static void cpu_destroy(struct backend *be)
{
    cpu_team_release();
    cpu_gemm_release_thread();
    free(be->impl);
    free(be);
}

static void cpu_fill(struct backend *be, float *x, float value, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

static void cpu_fill_f64(struct backend *be, double *x, double value, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

static void cpu_step_advance(struct backend *be, uint64_t *step) { *step += 1; }

static void cpu_gemm(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cpu_gemm_run(bf16_of(be), trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc,
                 &(struct gemm_epilogue){.alpha = alpha, .beta = beta});
}

static void cpu_linear_forward(struct backend *be, float *out, const float *in, const float *w, const float *bias,
                               int rows, int in_w, int out_w, bool has_act, enum activation act)
{
    cpu_gemm_run(bf16_of(be), false, true, rows, out_w, in_w, in, in_w, w, in_w, out, out_w,
                 &(struct gemm_epilogue){.alpha = 1, .bias = bias, .has_act = has_act, .act = act});
}

static void cpu_bias_add(struct backend *be, float *out, const float *bias, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] += bias[c];
}

struct bias_grad_job {
    float *dbias;
    const float *dout;
    int rows, cols;
    float beta;
};

/* columns [begin, end): each column's sum is the same however they are cut */
static void bias_grad_range(void *arg, size_t begin, size_t end)
{
    const struct bias_grad_job j = *(const struct bias_grad_job *)arg; /* locals: the stores cannot alias them */
    for (size_t c = begin; c < end; c++)
        j.dbias[c] = j.beta == 0 ? 0 : j.beta * j.dbias[c];
    for (int r = 0; r < j.rows; r++) {
        const float *row = j.dout + (size_t)r * j.cols;
        for (size_t c = begin; c < end; c++)
            j.dbias[c] += row[c];
    }
}

static void cpu_bias_grad(struct backend *be, float *dbias, const float *dout, int rows, int cols, float beta)
{
    struct bias_grad_job j = {.dbias = dbias, .dout = dout, .rows = rows, .cols = cols, .beta = beta};
    size_t columns = rows > 0 && (size_t)rows < CPU_TEAM_BLOCK_FLOATS / 16 ? CPU_TEAM_BLOCK_FLOATS / (size_t)rows : 16;
    cpu_team_for((size_t)cols, columns, TEAM_AWAKE_ONLY, bias_grad_range, &j);
}

/* The loops over terms.h's act_term and act_grad_term, inlined where act
 * is a constant: GCC does not vectorize a loop with the switch inside, so
 * each activation gets its own loop. */
static inline __attribute__((always_inline)) void act_forward_loop(enum activation act, float *out, const float *in,
                                                                   size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = act_term(act, in[i]);
}

static inline __attribute__((always_inline)) void act_backward_loop(enum activation act, float *din,
                                                                    const float *out, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] = act_grad_term(act, out[i], dout[i]);
}

/* An element-wise op's operands: out = f(a) or out = f(a, b). */
struct elementwise_job {
    enum activation act;
    float *out;
    const float *a, *b;
};

static void act_forward_range(void *arg, size_t begin, size_t end)
{
    const struct elementwise_job j = *(const struct elementwise_job *)arg; /* locals: the stores cannot alias them */
    float *out = j.out + begin;
    const float *in = j.a + begin;
    switch (j.act) {
    case ACT_RELU:
        act_forward_loop(ACT_RELU, out, in, end - begin);
        break;
    case ACT_SIGMOID:
        act_forward_loop(ACT_SIGMOID, out, in, end - begin);
        break;
    case ACT_TANH:
        act_forward_loop(ACT_TANH, out, in, end - begin);
        break;
    }
}

static void cpu_act_forward(struct backend *be, enum activation act, float *out, const float *in, size_t n)
{
    cpu_team_for(n, CPU_TEAM_BLOCK_FLOATS, TEAM_AWAKE_ONLY, act_forward_range,
                 &(struct elementwise_job){.act = act, .out = out, .a = in});
}

/* a: the forward's output, b: the gradient of the output */
static void act_backward_range(void *arg, size_t begin, size_t end)
{
    const struct elementwise_job j = *(const struct elementwise_job *)arg; /* locals: the stores cannot alias them */
    float *din = j.out + begin;
    const float *out = j.a + begin, *dout = j.b + begin;
    switch (j.act) {
    case ACT_RELU:
        act_backward_loop(ACT_RELU, din, out, dout, end - begin);
        break;
    case ACT_SIGMOID:
        act_backward_loop(ACT_SIGMOID, din, out, dout, end - begin);
        break;
    case ACT_TANH:
        act_backward_loop(ACT_TANH, din, out, dout, end - begin);
        break;
    }
}

static void cpu_act_backward(struct backend *be, enum activation act, float *din, const float *out,
                             const float *dout, size_t n)
{
    cpu_team_for(n, CPU_TEAM_BLOCK_FLOATS, TEAM_AWAKE_ONLY, act_backward_range,
                 &(struct elementwise_job){.act = act, .out = din, .a = out, .b = dout});
}

static void mul_range(void *arg, size_t begin, size_t end)
{
    const struct elementwise_job j = *(const struct elementwise_job *)arg; /* locals: the stores cannot alias them */
    for (size_t i = begin; i < end; i++)
        j.out[i] = j.a[i] * j.b[i];
}

static void cpu_mul(struct backend *be, float *out, const float *a, const float *b, size_t n)
{
    cpu_team_for(n, CPU_TEAM_BLOCK_FLOATS, TEAM_AWAKE_ONLY, mul_range,
                 &(struct elementwise_job){.out = out, .a = a, .b = b});
}

static void cpu_center_rows(struct backend *be, float *out, const float *in, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * cols;
        double sum = 0;
        for (int c = 0; c < cols; c++)
            sum += x[c];
        float mean = (float)(sum / cols);
        for (int c = 0; c < cols; c++)
            out[(size_t)r * cols + c] = x[c] - mean;
    }
}

static void cpu_softmax_forward(struct backend *be, float *out, const float *in, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *z = in + (size_t)r * cols;
        float *o = out + (size_t)r * cols;
        float max = z[0];
        for (int c = 1; c < cols; c++)
            max = z[c] > max ? z[c] : max;
        float sum = 0;
        for (int c = 0; c < cols; c++) {
            o[c] = expf(z[c] - max);
            sum += o[c];
        }
        for (int c = 0; c < cols; c++)
            o[c] /= sum;
    }
}

static void cpu_softmax_backward(struct backend *be, float *din, const float *out, const float *dout,
                                 int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const float *s = out + (size_t)r * cols, *g = dout + (size_t)r * cols;
        float dot = 0;
        for (int c = 0; c < cols; c++)
            dot += s[c] * g[c];
        for (int c = 0; c < cols; c++)
            din[(size_t)r * cols + c] = s[c] * (g[c] - dot);
    }
}

/* The loss of rows [64 b, 64 b + 64) (more rows where there would be over
 * LOSS_BLOCKS blocks) is summed into block b's slot, and the slots in
 * order: the same sums whatever the team's size. */
enum { LOSS_BLOCK_ROWS = 64, LOSS_BLOCKS = 256 };

struct cross_entropy_job {
    float *dlogits;
    const float *logits, *labels;
    int rows, cols, block_rows;
    float grad_scale;
    double loss[LOSS_BLOCKS], correct[LOSS_BLOCKS];
};

static void cross_entropy_block(void *arg, int block)
{
    struct cross_entropy_job *j = arg;
    float *dlogits = j->dlogits, grad_scale = j->grad_scale;
    const float *logits = j->logits, *labels = j->labels;
    int cols = j->cols, first = block * j->block_rows;
    int last = j->rows - first < j->block_rows ? j->rows : first + j->block_rows;
    double loss = 0, correct = 0;
    for (int r = first; r < last; r++) {
        const float *z = logits + (size_t)r * cols;
        int y = (int)labels[r];
        int predicted = argmax_row(z, cols);
        float max = z[predicted];
        float sum = 0;
        for (int c = 0; c < cols; c++)
            sum += expf(z[c] - max);
        float lse = max + logf(sum);
        loss += lse - z[y];
        correct += predicted == y;
        if (dlogits)
            for (int c = 0; c < cols; c++)
                dlogits[(size_t)r * cols + c] = (expf(z[c] - lse) - (c == y)) * grad_scale;
    }
    j->loss[block] = loss;
    j->correct[block] = correct;
}

static void cpu_cross_entropy(struct backend *be, float *dlogits, double *acc, const float *logits,
                              const float *labels, int rows, int cols, float grad_scale)
{
    struct cross_entropy_job j = {.dlogits = dlogits, .logits = logits, .labels = labels, .rows = rows, .cols = cols,
                                  .block_rows = LOSS_BLOCK_ROWS, .grad_scale = grad_scale};
    if (rows > LOSS_BLOCK_ROWS * LOSS_BLOCKS)
        j.block_rows = (rows + LOSS_BLOCKS - 1) / LOSS_BLOCKS;
    int blocks = (rows + j.block_rows - 1) / j.block_rows;
    cpu_team_run(blocks, TEAM_AWAKE_ONLY, cross_entropy_block, &j);
    for (int b = 0; b < blocks; b++) {
        acc[ACC_LOSS] += j.loss[b];
        acc[ACC_CORRECT] += j.correct[b];
    }
    acc[ACC_COUNT] += rows;
}

static void cpu_nll(struct backend *be, float *dprobs, double *acc, const float *probs, const float *labels,
                    int rows, int cols, float grad_scale)
{
    double loss = 0, correct = 0;
    for (int r = 0; r < rows; r++) {
        const float *p = probs + (size_t)r * cols;
        int y = (int)labels[r];
        loss += -logf(p[y]);
        correct += argmax_row(p, cols) == y;
        if (dprobs)
            for (int c = 0; c < cols; c++)
                dprobs[(size_t)r * cols + c] = c == y ? -grad_scale / p[y] : 0.0f;
    }
    acc[ACC_LOSS] += loss;
    acc[ACC_CORRECT] += correct;
    acc[ACC_COUNT] += rows;
}

static void cpu_regression_loss(struct backend *be, enum regression_loss kind, float *dpred, double *acc,
                                const float *pred, const float *target, int rows, int cols, float delta,
                                float grad_scale)
{
    double loss = 0;
    size_t n = (size_t)rows * cols;
    for (size_t i = 0; i < n; i++) {
        float g;
        loss += regression_term(kind, pred[i] - target[i], delta, &g);
        if (dpred)
            dpred[i] = g * grad_scale;
    }
    acc[ACC_LOSS] += loss;
    acc[ACC_COUNT] += rows;
}

static void cpu_log_sq_error(struct backend *be, double *acc, const float *pred, const float *target, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float d = logf(fmaxf(pred[i], 1.0f)) - logf(target[i]);
        sum += (double)d * d;
    }
    acc[ACC_SQERR] += sum;
}

static void cpu_penalty(struct backend *be, bool l1, float *grad, double *acc, const float *w, size_t n,
                        float lambda, float grad_scale, float count_scale)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (l1) {
            sum += fabsf(w[i]);
            if (grad)
                grad[i] += lambda * (float)((w[i] > 0) - (w[i] < 0)) * grad_scale;
        } else {
            sum += 0.5 * (double)w[i] * w[i];
            if (grad)
                grad[i] += lambda * w[i] * grad_scale;
        }
    }
    acc[ACC_PENALTY] += lambda * sum * count_scale;
}

struct gather_job {
    float *out;
    const void *x;
    const int32_t *idx;
    int cols;
    float scale;
};

/* Rows this far ahead are fetched from memory while this one is converted:
 * the rows are scattered over the dataset, where the processor's own
 * prefetcher does not guess them. */
enum { GATHER_AHEAD = 4 };

/* Starts fetching row idx[r + GATHER_AHEAD] of x (rows of row_bytes) when
 * it is one of this piece's rows. */
static void prefetch_ahead(const struct gather_job *j, size_t r, size_t end, size_t row_bytes)
{
    if (r + GATHER_AHEAD >= end)
        return;
    const char *row = (const char *)j->x + (size_t)j->idx[r + GATHER_AHEAD] * row_bytes;
    for (size_t off = 0; off < row_bytes; off += 64)
        __builtin_prefetch(row + off);
}

static void gather_u8_range(void *arg, size_t begin, size_t end)
{
    const struct gather_job j = *(const struct gather_job *)arg; /* locals: the stores cannot alias them */
    const uint8_t *x = j.x;
    size_t cols = (size_t)j.cols;
    for (size_t r = begin; r < end; r++) {
        prefetch_ahead(&j, r, end, cols);
        const uint8_t *src = x + (size_t)j.idx[r] * cols;
        float *dst = j.out + r * cols;
        for (size_t c = 0; c < cols; c++)
            dst[c] = src[c] * j.scale;
    }
}

/* A batch's gather starts a step (and an evaluation batch), and the
 * layer-1 GEMM comes right after it: the gather wakes the team, so that the
 * worker's wake-up overlaps the gather's own work, halves the gather (it
 * waits on memory) and leaves the worker awake for the GEMM. Interleaved
 * runs: the MLP's epochs shorter in 15 pairs of 21 (by 5% in the median),
 * alike beside a busy loop (docs/BENCH.md). */
static void cpu_gather_u8(struct backend *be, float *out, const uint8_t *x, const int32_t *idx, int rows,
                          int cols, float scale)
{
    struct gather_job j = {.out = out, .x = x, .idx = idx, .cols = cols, .scale = scale};
    cpu_team_for((size_t)rows, rows_per_block(cols), TEAM_WAKE, gather_u8_range, &j);
}

static void gather_f32_range(void *arg, size_t begin, size_t end)
{
    const struct gather_job j = *(const struct gather_job *)arg; /* locals: the stores cannot alias them */
    size_t row_bytes = (size_t)j.cols * sizeof(float);
    for (size_t r = begin; r < end; r++) {
        prefetch_ahead(&j, r, end, row_bytes);
        memcpy((char *)j.out + r * row_bytes, (const char *)j.x + (size_t)j.idx[r] * row_bytes, row_bytes);
    }
}

static void cpu_gather_f32(struct backend *be, float *out, const float *x, const int32_t *idx, int rows,
                           int cols)
{
    struct gather_job j = {.out = out, .x = x, .idx = idx, .cols = cols};
    cpu_team_for((size_t)rows, rows_per_block(cols), TEAM_WAKE, gather_f32_range, &j); /* as cpu_gather_u8 */
}

static void cpu_sum_squares(struct backend *be, double *acc, const float *x, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    *acc += sum;
}

static void cpu_clip_scale(struct backend *be, float *x, size_t n, const double *sq_norm, float max_norm)
{
    float c = clip_coefficient(*sq_norm, max_norm);
    if (c < 1)
        for (size_t i = 0; i < n; i++)
            x[i] *= c;
}

/* An optimizer step's operands. */
struct optim_job {
    float *p, *m, *v;
    const float *g;
    float lr, momentum, weight_decay;
    struct adam_scalars adam;
};

static void sgd_range(void *arg, size_t begin, size_t end)
{
    const struct optim_job j = *(const struct optim_job *)arg; /* locals: the stores cannot alias them */
    for (size_t i = begin; i < end; i++)
        sgd_update(&j.p[i], j.g[i], &j.v[i], j.lr, j.momentum, j.weight_decay);
}

static void cpu_sgd_step(struct backend *be, float *p, const float *g, float *v, size_t n, const float *lr,
                         float momentum, float weight_decay)
{
    struct optim_job j = {.p = p, .v = v, .g = g, .lr = *lr, .momentum = momentum, .weight_decay = weight_decay};
    cpu_team_for(n, CPU_TEAM_BLOCK_FLOATS, TEAM_AWAKE_ONLY, sgd_range, &j);
}

static void adam_range(void *arg, size_t begin, size_t end)
{
    const struct optim_job j = *(const struct optim_job *)arg; /* locals: the stores cannot alias them */
    for (size_t i = begin; i < end; i++)
        adam_update(&j.p[i], j.g[i], &j.m[i], &j.v[i], &j.adam);
}

static void cpu_adam_step(struct backend *be, float *p, const float *g, float *m, float *v, size_t n,
                          const float *lr, double beta1, double beta2, float eps, float weight_decay,
                          const uint64_t *step)
{
    struct optim_job j = {.p = p, .m = m, .v = v, .g = g,
                          .adam = adam_scalars_at(*lr, beta1, beta2, eps, weight_decay, *step)};
    cpu_team_for(n, CPU_TEAM_BLOCK_FLOATS, TEAM_AWAKE_ONLY, adam_range, &j);
}

struct backend *cpu_backend_create(bool bf16, struct err *e)
{
    if (cpu_gemm_start(&bf16, e))
        return NULL;
    struct backend *be = calloc(1, sizeof *be);
    struct cpu_impl *impl = calloc(1, sizeof *impl);
    if (!be || !impl) {
        free(be);
        free(impl);
        err_set(e, EXIT_RUNTIME, "out of memory creating the CPU backend");
        return NULL;
    }
    impl->bf16 = bf16;
    *be = (struct backend){
        .name = "cpu",
        .impl = impl,
        .host_memory = true,
        .shared_by_threads = true,
        .destroy = cpu_destroy,
        .alloc = cpu_alloc,
        .release = cpu_release,
        .upload = cpu_copy,
        .download = cpu_copy,
        .graph_run = cpu_graph_run,
        .fill = cpu_fill,
        .fill_f64 = cpu_fill_f64,
        .step_advance = cpu_step_advance,
        .gemm = cpu_gemm,
        .linear_forward = cpu_linear_forward,
        .bias_add = cpu_bias_add,
        .bias_grad = cpu_bias_grad,
        .act_forward = cpu_act_forward,
        .act_backward = cpu_act_backward,
        .dropout_forward = cpu_dropout_forward,
        .mul = cpu_mul,
        .center_rows = cpu_center_rows,
        .softmax_forward = cpu_softmax_forward,
        .softmax_backward = cpu_softmax_backward,
        .cross_entropy = cpu_cross_entropy,
        .nll = cpu_nll,
        .regression_loss = cpu_regression_loss,
        .log_sq_error = cpu_log_sq_error,
        .penalty = cpu_penalty,
        .gather_u8 = cpu_gather_u8,
        .gather_f32 = cpu_gather_f32,
        .sum_squares = cpu_sum_squares,
        .clip_scale = cpu_clip_scale,
        .sgd_step = cpu_sgd_step,
        .adam_step = cpu_adam_step,
    };
    return be;
}
