/* Where an epoch of d2l's MLP (784-256-ReLU-10, batch 256, 235 steps)
 * goes on the CPU backend: each op of the training step timed over one
 * epoch's worth of calls at the real shapes, GEMMs against the rest; then
 * the floor: the epoch's GEMMs alone (training and the test-set
 * evaluation), each at the faster of oneDNN's two GEMM interfaces (a cached
 * matmul primitive, dnnl_sgemm), best of 5. Built and run by `make bench`
 * (scripts/bench.sh), which divides d2ltrain's epoch by the floor, the
 * lower of two runs: OpenMP's threads waiting passively (d2ltrain's
 * default) and spinning. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../core/backend.h"
#include "../core/dnnl_lib.h"

enum { B = 256, D = 784, H = 256, C = 10, STEPS = 235, N = 60000, TEST_BATCHES = 40 /* 10000 rows */ };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *floats(size_t n, float scale)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * (float)((int)(i * 2654435761u % 2001) - 1000) / 1000;
    return p;
}

static double gemm_ms, rest_ms;

/* One untimed call first: a GEMM's first run pays oneDNN's one-time JIT
 * (dW1's transposed-A slices, "gemm:jit": 45-58 ms in each team thread,
 * then 0.3-0.4 ms a call), which no step after a run's first pays. */
#define TIME_OP(name, is_gemm, call)                                                                  \
    do {                                                                                              \
        for (int s = 0; s < 1; s++)                                                                   \
            call;                                                                                     \
        double t0 = now();                                                                            \
        for (int s = 0; s < STEPS; s++)                                                               \
            call;                                                                                     \
        double ms = (now() - t0) * 1e3;                                                               \
        *((is_gemm) ? &gemm_ms : &rest_ms) += ms;                                                     \
        printf("  %-22s %7.1f ms/epoch\n", name, ms);                                                 \
    } while (0)

struct floor_gemm {
    const char *name;
    bool trans_a, trans_b;
    int m, n, k, calls;
};

/* Seconds for g's calls through the backend's gemm (api 0: oneDNN's
 * cached matmul primitive) or dnnl_sgemm (api 1), the best of 5. */
static double floor_time(struct backend *be, const struct dnnl_lib *dl, const struct floor_gemm *g, int api,
                         float *const bufs[3])
{
    int lda = g->trans_a ? g->m : g->k, ldb = g->trans_b ? g->k : g->n;
    double best = 1e30;
    int threads = cpu_threads_available();
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int c = 0; c < g->calls; c++) {
            if (api == 0)
                be->gemm(be, g->trans_a, g->trans_b, g->m, g->n, g->k, 1, bufs[0], lda, bufs[1], ldb, 0, bufs[2], g->n);
            else if (dl->omp_set_num_threads(threads), dl->sgemm(g->trans_a ? 'T' : 'N', g->trans_b ? 'T' : 'N', g->m, g->n, g->k, 1, bufs[0], lda,
                                bufs[1], ldb, 0, bufs[2], g->n) != dnnl_success)
                return 1e30;
        }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

int main(void)
{
    setenv("OMP_WAIT_POLICY", "passive", 0); /* as d2ltrain (cmd/main.c) */
    struct err e = {0};
    struct backend *be = cpu_backend_create(false, &e);
    const struct dnnl_lib *dl = dnnl_lib(&e);
    if (!be || !dl) {
        fprintf(stderr, "bench_ops: %s\n", e.msg);
        return 1;
    }
    uint8_t *x = malloc((size_t)N * D);
    int32_t *order = malloc(N * sizeof *order);
    for (size_t i = 0; i < (size_t)N * D; i++)
        x[i] = (uint8_t)(i * 2654435761u >> 24);
    for (int i = 0; i < N; i++)
        order[i] = (int32_t)((i * 7919ull) % N);
    float *xb = floats((size_t)B * D, 1), *w1 = floats((size_t)H * D, 0.01f), *b1 = floats(H, 0.01f);
    float *a = floats((size_t)B * H, 1), *w2 = floats((size_t)C * H, 0.01f), *b2 = floats(C, 0.01f);
    float *out = floats((size_t)B * C, 1), *dout = floats((size_t)B * C, 0.01f), *labels = calloc(B, sizeof *labels);
    float *da = floats((size_t)B * H, 0.01f), *dh = floats((size_t)B * H, 0.01f);
    size_t n_params = (size_t)H * D + H + (size_t)C * H + C;
    float *params = floats(n_params, 0.01f), *grads = floats(n_params, 0.001f), *velocity = calloc(n_params, 4);
    double acc[ACC_SLOTS] = {0};
    uint64_t step = 0;
    float lr = 0.1f;

    printf("one epoch of the MLP's training step, op by op (CPU backend):\n");
    TIME_OP("gather_u8 (batch)", 0, be->gather_u8(be, xb, x, order + s * B, B, D, 1 / 255.0f));
    TIME_OP("linear+bias+relu 1", 1, be->linear_forward(be, a, xb, w1, b1, B, D, H, true, ACT_RELU));
    TIME_OP("linear+bias 2", 1, be->linear_forward(be, out, a, w2, b2, B, H, C, false, ACT_RELU));
    TIME_OP("cross_entropy", 0, be->cross_entropy(be, dout, acc, out, labels, B, C, 1.0f / B));
    TIME_OP("gemm dW2", 1, be->gemm(be, true, false, C, H, B, 1, dout, C, a, H, 0, grads, H));
    TIME_OP("gemm dX2", 1, be->gemm(be, false, false, B, H, C, 1, dout, C, w2, H, 0, da, H));
    TIME_OP("relu backward", 0, be->act_backward(be, ACT_RELU, dh, a, da, (size_t)B * H));
    TIME_OP("bias_grad 1", 0, be->bias_grad(be, b1, dh, B, H, 0));
    TIME_OP("gemm dW1", 1, be->gemm(be, true, false, H, D, B, 1, dh, H, xb, D, 0, grads, D));
    TIME_OP("sgd_step", 0, be->sgd_step(be, params, grads, velocity, n_params, &lr, 0, 0));
    TIME_OP("step_advance", 0, be->step_advance(be, &step));
    printf("GEMM %.0f ms (%.0f%%), the rest %.0f ms (%.0f%%): %.3f s per epoch of training steps\n", gemm_ms,
           100 * gemm_ms / (gemm_ms + rest_ms), rest_ms, 100 * rest_ms / (gemm_ms + rest_ms),
           (gemm_ms + rest_ms) / 1e3);

    /* The same ops one after the other, as a training step runs them: what
     * this takes beyond the op-by-op sum is lost between ops. */
    double seq_best = 1e30, seq_cpu = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now(), c0 = cpu_now();
        for (int s = 0; s < STEPS; s++) {
            be->gather_u8(be, xb, x, order + s * B, B, D, 1 / 255.0f);
            be->linear_forward(be, a, xb, w1, b1, B, D, H, true, ACT_RELU);
            be->linear_forward(be, out, a, w2, b2, B, H, C, false, ACT_RELU);
            be->cross_entropy(be, dout, acc, out, labels, B, C, 1.0f / B);
            be->gemm(be, true, false, C, H, B, 1, dout, C, a, H, 0, grads, H);
            be->gemm(be, false, false, B, H, C, 1, dout, C, w2, H, 0, da, H);
            be->act_backward(be, ACT_RELU, dh, a, da, (size_t)B * H);
            be->bias_grad(be, b1, dh, B, H, 0);
            be->gemm(be, true, false, H, D, B, 1, dh, H, xb, D, 0, grads, D);
            be->sgd_step(be, params, grads, velocity, n_params, &lr, 0, 0);
            be->step_advance(be, &step);
        }
        double t = now() - t0;
        if (t < seq_best) {
            seq_best = t;
            seq_cpu = cpu_now() - c0;
        }
    }
    printf("the step's ops in sequence: %.3f s per epoch (best of 5; CPU time %.3f s), %.0f us per step beyond "
           "the op-by-op sum\n", seq_best, seq_cpu, (seq_best - (gemm_ms + rest_ms) / 1e3) / STEPS * 1e6);

    /* The floor. The operands are the same buffers as above; what they
     * hold does not change the time. */
    static const struct floor_gemm floor[] = {
        {"forward 1", false, true, B, H, D, STEPS + TEST_BATCHES}, {"forward 2", false, true, B, C, H, STEPS + TEST_BATCHES},
        {"dW2", true, false, C, H, B, STEPS}, {"dX2", false, false, B, H, C, STEPS},
        {"dW1", true, false, H, D, B, STEPS},
    };
    float *bufs[3] = {floats((size_t)H * D, 1), floats((size_t)H * D, 1), floats((size_t)H * D, 1)};
    double floor_s = 0;
    printf("the floor: the epoch's GEMMs alone, best of 5 (training steps, and forward on the 10000 test rows):\n");
    for (size_t i = 0; i < sizeof floor / sizeof floor[0]; i++) {
        double best[2];
        for (int api = 0; api < 2; api++)
            best[api] = floor_time(be, dl, &floor[i], api, bufs);
        double s = best[0] < best[1] ? best[0] : best[1];
        const struct floor_gemm *g = &floor[i];
        printf("  %-10s %4dx%4dx%4d x%3d calls: matmul %6.1f ms, dnnl_sgemm %6.1f ms (%.0f GFLOP/s)\n", g->name, g->m,
               g->n, g->k, g->calls, best[0] * 1e3, best[1] * 1e3, 2.0 * g->m * g->n * g->k * g->calls / s / 1e9);
        floor_s += s;
    }
    printf("floor_seconds %.4f\n", floor_s);
    for (int i = 0; i < 3; i++)
        free(bufs[i]);
    be->destroy(be);
    return 0;
}
