/* Where an epoch of d2l's MLP (784-256-ReLU-10, batch 256, 235 steps)
 * goes on a backend: each op of the training step timed over one epoch's
 * worth of calls at the real shapes, GEMMs against the rest. Built and run
 * by `make bench` (scripts/bench.sh); CPU backend (ops are synchronous). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../core/backend.h"

enum { B = 256, D = 784, H = 256, C = 10, STEPS = 235, N = 60000 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
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

#define TIME_OP(name, is_gemm, call)                                                                  \
    do {                                                                                              \
        double t0 = now();                                                                            \
        for (int s = 0; s < STEPS; s++)                                                               \
            call;                                                                                     \
        double ms = (now() - t0) * 1e3;                                                               \
        *((is_gemm) ? &gemm_ms : &rest_ms) += ms;                                                     \
        printf("  %-22s %7.1f ms/epoch\n", name, ms);                                                 \
    } while (0)

int main(void)
{
    struct err e = {0};
    struct backend *be = cpu_backend_create(&e);
    if (!be)
        return 1;
    uint8_t *x = malloc((size_t)N * D);
    int32_t *order = malloc(N * sizeof *order);
    for (size_t i = 0; i < (size_t)N * D; i++)
        x[i] = (uint8_t)(i * 2654435761u >> 24);
    for (int i = 0; i < N; i++)
        order[i] = (int32_t)((i * 7919ull) % N);
    float *xb = floats((size_t)B * D, 1), *w1 = floats((size_t)H * D, 0.01f), *b1 = floats(H, 0.01f);
    float *h = floats((size_t)B * H, 1), *a = floats((size_t)B * H, 1), *w2 = floats((size_t)C * H, 0.01f);
    float *out = floats((size_t)B * C, 1), *dout = floats((size_t)B * C, 0.01f), *labels = calloc(B, sizeof *labels);
    float *da = floats((size_t)B * H, 0.01f), *dh = floats((size_t)B * H, 0.01f);
    size_t n_params = (size_t)H * D + H + (size_t)C * H + C;
    float *params = floats(n_params, 0.01f), *grads = floats(n_params, 0.001f), *velocity = calloc(n_params, 4);
    double acc[ACC_SLOTS] = {0};
    uint64_t step = 0;
    float lr = 0.1f;

    printf("one epoch of the MLP's training step, op by op (CPU backend):\n");
    TIME_OP("gather_u8 (batch)", 0, be->gather_u8(be, xb, x, order + s * B, B, D, 1 / 255.0f));
    TIME_OP("gemm forward 1", 1, be->gemm(be, false, true, B, H, D, 1, xb, D, w1, D, 0, h, H));
    TIME_OP("bias_add 1", 0, be->bias_add(be, h, b1, B, H));
    TIME_OP("relu forward", 0, be->act_forward(be, ACT_RELU, a, h, (size_t)B * H));
    TIME_OP("gemm forward 2", 1, be->gemm(be, false, true, B, C, H, 1, a, H, w2, H, 0, out, C));
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
    be->destroy(be);
    return 0;
}
