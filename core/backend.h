/* The seam between the training code and a device. Layers, losses and
 * optimizers call only these ops; the CPU backend (core/cpu_backend.c) and
 * the CUDA backend (gpu/) implement them. All pointers handed to ops are
 * "device" memory from alloc() (plain host memory on the CPU backend).
 * Matrices are row-major float32. Ops are asynchronous on a device;
 * upload() and download() wait for their copy.
 *
 * Scalars that change from step to step or epoch to epoch (the optimizer
 * step count, which also numbers dropout masks; the scheduled learning
 * rate) live in device memory (`const uint64_t *step`, `const float *lr`)
 * so that a recorded sequence of ops (graph_run) can be replayed unchanged.
 *
 * A GPU backend (one device, one stream) is used by the thread that made
 * it; the CPU backend holds no state that changes (its GEMM primitives are
 * cached per thread, core/cpu_gemm.h), so threads may share it. */
#ifndef D2L_BACKEND_H
#define D2L_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum activation { ACT_RELU, ACT_SIGMOID, ACT_TANH };

/* Element-wise regression losses. MSE is nn.MSELoss, (p - y)^2; SQUARED is
 * d2l's squared_loss, (p - y)^2 / 2. */
enum regression_loss { RLOSS_MSE, RLOSS_SQUARED, RLOSS_HUBER, RLOSS_L1 };

/* Slots of the metrics accumulator: an array of ACC_SLOTS doubles in device
 * memory that ops add into and the host reads once per epoch. */
enum acc_slot { ACC_LOSS, ACC_CORRECT, ACC_COUNT, ACC_SQERR, ACC_PENALTY, ACC_SLOTS };

struct backend {
    const char *name; /* "cpu", "cuda:0" */
    void *impl;
    bool host_memory; /* its memory is the host's: plugin layers (host code) can run on it */
    /* Several threads may issue its ops at once (the CPU's ops keep no
     * state); a GPU backend is one device and one stream, used by the thread
     * that made it. */
    bool shared_by_threads;
    /* graph_run replays a record: the body must issue the same ops each
     * time (it may not stop part way); false when it calls the body. */
    bool replays_graphs;

    void (*destroy)(struct backend *be);

    /* Memory. alloc returns NULL and fills *e (naming the size and the free
     * memory) when it cannot. */
    void *(*alloc)(struct backend *be, size_t bytes, struct err *e);
    void (*release)(struct backend *be, void *p);
    void (*upload)(struct backend *be, void *dst, const void *src, size_t bytes);
    void (*download)(struct backend *be, void *dst, const void *src, size_t bytes);

    /* Runs body(arg), which issues ops only (no download). A device backend
     * records it the first time a key is seen and replays the record after;
     * the CPU backend just calls it. */
    void (*graph_run)(struct backend *be, int key, void (*body)(void *arg), void *arg);

    void (*fill)(struct backend *be, float *x, float value, size_t n);
    void (*fill_f64)(struct backend *be, double *x, double value, size_t n);
    /* *step += 1 */
    void (*step_advance)(struct backend *be, uint64_t *step);

    /* C[m,n] = alpha * op(A)[m,k] op(B)[k,n] + beta * C, row-major, with
     * leading dimensions the row lengths as stored. */
    void (*gemm)(struct backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

    /* out[rows, out_w] = act(in[rows, in_w] W^T + bias) with W [out_w, in_w],
     * bias [out_w] or NULL and the activation only when has_act: a linear
     * layer and the activation after it, one op so that a backend may fuse
     * the epilogue into its GEMM. */
    void (*linear_forward)(struct backend *be, float *out, const float *in, const float *w, const float *bias,
                           int rows, int in_w, int out_w, bool has_act, enum activation act);

    /* out[r,c] += bias[c] */
    void (*bias_add)(struct backend *be, float *out, const float *bias, int rows, int cols);
    /* dbias[c] = beta * dbias[c] + sum_r dout[r,c]; beta 1 adds a tied
     * layer's second use, beta 0 ignores what dbias held. */
    void (*bias_grad)(struct backend *be, float *dbias, const float *dout, int rows, int cols, float beta);

    /* out = f(in); din = f'(.) * dout computed from the output. in-place ok */
    void (*act_forward)(struct backend *be, enum activation act, float *out, const float *in, size_t n);
    void (*act_backward)(struct backend *be, enum activation act, float *din, const float *out,
                         const float *dout, size_t n);

    /* mask[i] = keep ? 1/(1-p) : 0 with keep iff dropout_uniform(seed,
     * layer_id, *step, first + i) >= p; out = in * mask. first numbers the
     * elements from the global batch's first row, so a data-parallel rank's
     * slice draws the masks one process would draw for those rows. */
    void (*dropout_forward)(struct backend *be, float *out, float *mask, const float *in, size_t n,
                            uint64_t first, float p, uint64_t seed, uint32_t layer_id, const uint64_t *step);
    /* out = a * b element-wise */
    void (*mul)(struct backend *be, float *out, const float *a, const float *b, size_t n);

    /* out[r,:] = in[r,:] - mean(in[r,:]): the centered layer's forward, and
     * its backward too (the Jacobian I - 1/cols is symmetric). */
    void (*center_rows)(struct backend *be, float *out, const float *in, int rows, int cols);

    /* Row-wise softmax and its backward (the unfused, from-scratch layer). */
    void (*softmax_forward)(struct backend *be, float *out, const float *in, int rows, int cols);
    void (*softmax_backward)(struct backend *be, float *din, const float *out, const float *dout,
                             int rows, int cols);

    /* Losses add the batch's loss sum to acc[ACC_LOSS], the row count to
     * acc[ACC_COUNT], and (classification) correct predictions to
     * acc[ACC_CORRECT]; when grad is not NULL they write d(loss)/d(input) *
     * grad_scale. Labels are class indices stored as floats. */
    void (*cross_entropy)(struct backend *be, float *dlogits, double *acc, const float *logits,
                          const float *labels, int rows, int cols, float grad_scale);
    /* Negative log-likelihood of probabilities (after a softmax layer). */
    void (*nll)(struct backend *be, float *dprobs, double *acc, const float *probs,
                const float *labels, int rows, int cols, float grad_scale);
    /* pred and target are [rows, cols]; loss per row is summed over cols. */
    void (*regression_loss)(struct backend *be, enum regression_loss kind, float *dpred, double *acc,
                            const float *pred, const float *target, int rows, int cols, float delta,
                            float grad_scale);
    /* acc[ACC_SQERR] += sum (log(max(pred,1)) - log(target))^2 */
    void (*log_sq_error)(struct backend *be, double *acc, const float *pred, const float *target, int n);

    /* Penalty lambda * (l2: sum w^2 / 2 | l1: sum |w|) added to
     * acc[ACC_PENALTY] * count_scale, and its gradient * grad_scale added to grad. */
    void (*penalty)(struct backend *be, bool l1, float *grad, double *acc, const float *w, size_t n,
                    float lambda, float grad_scale, float count_scale);

    /* out[r,:] = x[idx[r],:] * scale, converting uint8 or float rows. */
    void (*gather_u8)(struct backend *be, float *out, const uint8_t *x, const int32_t *idx, int rows,
                      int cols, float scale);
    void (*gather_f32)(struct backend *be, float *out, const float *x, const int32_t *idx, int rows,
                       int cols);

    /* *acc += sum x^2 (in double): a squared norm, for clipping. */
    void (*sum_squares)(struct backend *be, double *acc, const float *x, size_t n);
    /* x *= c where c = max_norm / (sqrt(*sq_norm) + 1e-6) < 1, else x is left
     * as it is: torch.nn.utils.clip_grad_norm_'s scaling, read on the device. */
    void (*clip_scale)(struct backend *be, float *x, size_t n, const double *sq_norm, float max_norm);

    /* p -= *lr * (g + wd * p) with momentum v (v = momentum * v + g') when
     * momentum != 0, as torch.optim.SGD. */
    void (*sgd_step)(struct backend *be, float *p, const float *g, float *v, size_t n, const float *lr,
                     float momentum, float weight_decay);
    /* torch.optim.Adam (L2 added to the gradient), t = *step + 1; the betas
     * in double, as torch computes 1 - beta and beta^t. */
    void (*adam_step)(struct backend *be, float *p, const float *g, float *m, float *v, size_t n,
                      const float *lr, double beta1, double beta2, float eps, float weight_decay,
                      const uint64_t *step);

    /* Data parallel (core/train.c), called by every rank alike:
     * allreduce_start readies a sum over the ranks of the MPI job on the
     * device's own link (NCCL between GPUs) and says whether it did; then
     * allreduce sums x (device memory) over the ranks, in place. NULL, or
     * false: the trainer sums through host memory over MPI. */
    bool (*allreduce_start)(struct backend *be);
    void (*allreduce)(struct backend *be, float *x, size_t n);
};

#include "philox.h"

/* The Philox key and counter high word of layer `layer_id`'s dropout at
 * optimizer step `step`; element i's number is word i % 4 of counter i / 4. */
PHILOX_FN uint64_t dropout_key(uint64_t seed) { return philox_key(seed, RNG_DROPOUT); }
PHILOX_FN uint64_t dropout_counter_hi(uint32_t layer_id, uint64_t step) { return ((uint64_t)layer_id << 40) ^ step; }

/* Dropout mask bit i of layer `layer_id` at optimizer step `step`: the same
 * function on every backend. */
PHILOX_FN float dropout_uniform(uint64_t seed, uint32_t layer_id, uint64_t step, uint64_t i)
{
    struct philox4 r = philox4x32(dropout_counter_hi(layer_id, step), i / 4, dropout_key(seed));
    return philox_uniform(r.v[i % 4]);
}

/* The CPU backend; its GEMMs in FP32, or with bf16 arithmetic when bf16
 * (the spec's `cpu_bf16: true`) and the processor has it (else a notice on
 * stderr and FP32). */
struct backend *cpu_backend_create(bool bf16, struct err *e);

/* Threads the CPU backend's ops use when called from the calling thread
 * (its team, core/cpu_team.h: itself and n - 1 workers; n < 1: all cores
 * available, the default): each thread that issues CPU ops sets its own. */
void cpu_threads_set(int n);
/* The cores this process may run on (sched_getaffinity), at least 1. */
int cpu_threads_available(void);

/* Lower-precision GEMMs a spec allows: TF32 on a GPU (`tf32: true`), bf16
 * on the CPU (`cpu_bf16: true`). */
struct gemm_precision {
    bool tf32, cpu_bf16;
};

/* Picks the backend for a device string: "auto", "cpu", "cuda", "cuda:N".
 * auto falls back to the CPU with a one-line notice on stderr. */
struct backend *backend_select(const char *device, struct gemm_precision precision, struct err *e);

#endif
