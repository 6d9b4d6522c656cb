/* The CPU backend's thread team (core/cpu_team.h): every chunk of a run
 * runs once and before the run returns, whatever the team's size and
 * however runs follow each other; and the ops it splits give the bits the
 * calling thread alone gives. */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu_team.h"
#include "testutil.h"

enum { MAX_CHUNKS = 97 };

struct chunk_counts {
    _Atomic int runs[MAX_CHUNKS];
};

static void count_chunk(void *arg, int chunk)
{
    struct chunk_counts *c = arg;
    atomic_fetch_add(&c->runs[chunk], 1);
}

/* Thousands of runs back to back (a worker still leaving one run while the
 * next starts is the case the job word's generation is for), with chunk
 * counts from 1 to 97, on teams of 1 to 4. */
START_TEST(team_runs_every_chunk_once)
{
    static struct chunk_counts counts;
    for (int size = 1; size <= 4; size++) {
        cpu_threads_set(size);
        for (int run = 0; run < 3000; run++) {
            int chunks = 1 + (run * 37 + size) % MAX_CHUNKS;
            cpu_team_run(chunks, run % 3 ? TEAM_WAKE : TEAM_AWAKE_ONLY, count_chunk, &counts);
            for (int c = 0; c < MAX_CHUNKS; c++) {
                int got = atomic_exchange(&counts.runs[c], 0);
                ck_assert_msg(got == (c < chunks), "team of %d, run %d of %d chunks: chunk %d ran %d times", size,
                              run, chunks, c, got);
            }
        }
    }
    cpu_threads_set(0);
    cpu_team_release();
}
END_TEST

struct cover {
    _Atomic int *seen;
};

static void mark_range(void *arg, size_t begin, size_t end)
{
    struct cover *c = arg;
    for (size_t i = begin; i < end; i++)
        atomic_fetch_add(&c->seen[i], 1);
}

/* Pieces cover [0, n) once, at block boundaries and where the blocks
 * would outnumber CPU_TEAM_MAX_CHUNKS. */
START_TEST(team_for_covers_every_index_once)
{
    static const size_t cases[][2] = {{0, 4}, {1, 4}, {4, 4}, {5, 4}, {1000, 7}, {1024, 256}, {20000, 1}};
    cpu_threads_set(3);
    for (size_t t = 0; t < 2 * sizeof cases / sizeof cases[0]; t++) {
        size_t n = cases[t / 2][0], block = cases[t / 2][1];
        enum team_call call = t % 2 ? TEAM_WAKE : TEAM_AWAKE_ONLY;
        struct cover c = {.seen = calloc(n + 1, sizeof *c.seen)};
        cpu_team_for(n, block, call, mark_range, &c);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(c.seen[i] == 1, "n %zu block %zu call %d: index %zu seen %d times", n, block, (int)call, i,
                          (int)c.seen[i]);
        free(c.seen);
    }
    cpu_threads_set(0);
    cpu_team_release();
}
END_TEST

/* Everything the split ops write, for one team size. */
struct op_outputs {
    float *gathered, *gathered_f32, *params, *velocity, *adam_params, *adam_m, *adam_v;
    float *act, *act_grad, *dropped, *mask, *product, *dbias, *dlogits;
    double acc[ACC_SLOTS];
};

enum { ROWS = 300, COLS = 700, N = ROWS * COLS, SET_ROWS = 1000, CLASSES = 10 };

static float *copy_of(const float *x, size_t n)
{
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

static void run_ops(struct backend *be, struct op_outputs *o, const uint8_t *set_u8, const float *set_f32,
                    const int32_t *idx, const float *x, const float *g, const float *logits, const float *labels)
{
    float lr = 0.05f;
    uint64_t step = 3;
    o->gathered = malloc((size_t)N * sizeof(float));
    o->gathered_f32 = malloc((size_t)N * sizeof(float));
    be->gather_u8(be, o->gathered, set_u8, idx, ROWS, COLS, 1 / 255.0f);
    be->gather_f32(be, o->gathered_f32, set_f32, idx, ROWS, COLS);
    o->params = copy_of(x, N);
    o->velocity = copy_of(g, N);
    be->sgd_step(be, o->params, g, o->velocity, N, &lr, 0.9f, 1e-3f);
    o->adam_params = copy_of(x, N);
    o->adam_m = copy_of(g, N);
    o->adam_v = copy_of(x, N);
    for (size_t i = 0; i < N; i++)
        o->adam_v[i] *= o->adam_v[i];
    be->adam_step(be, o->adam_params, g, o->adam_m, o->adam_v, N, &lr, 0.9, 0.999, 1e-8f, 1e-4f, &step);
    o->act = malloc((size_t)N * sizeof(float));
    o->act_grad = malloc((size_t)N * sizeof(float));
    be->act_forward(be, ACT_TANH, o->act, x, N);
    be->act_backward(be, ACT_SIGMOID, o->act_grad, o->act, g, N);
    o->dropped = malloc((size_t)N * sizeof(float));
    o->mask = malloc((size_t)N * sizeof(float));
    be->dropout_forward(be, o->dropped, o->mask, x, N - 3, 5 /* a rank's slice */, 0.3f, 11, 2, &step);
    o->product = malloc((size_t)N * sizeof(float));
    be->mul(be, o->product, x, g, N);
    o->dbias = copy_of(g, COLS);
    be->bias_grad(be, o->dbias, x, ROWS, COLS, 1.0f);
    o->dlogits = malloc((size_t)ROWS * CLASSES * sizeof(float));
    memset(o->acc, 0, sizeof o->acc);
    be->cross_entropy(be, o->dlogits, o->acc, logits, labels, ROWS, CLASSES, 1.0f / ROWS);
}

static void outputs_free(struct op_outputs *o)
{
    float *bufs[] = {o->gathered, o->gathered_f32, o->params, o->velocity, o->adam_params, o->adam_m, o->adam_v,
                     o->act, o->act_grad, o->dropped, o->mask, o->product, o->dbias, o->dlogits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
}

#define SAME_BITS(field, n)                                                                               \
    ck_assert_msg(!memcmp(one.field, team.field, (size_t)(n) * sizeof *one.field), "team of %d: %s differs", \
                  size, #field)

/* The ops the team splits (by elements, rows or columns, the loss in fixed
 * blocks of rows) give the calling thread's bits on teams of 2, 3 and 4:
 * results do not depend on --threads. */
START_TEST(split_ops_give_one_threads_bits)
{
    struct backend *be = test_cpu_backend();
    uint64_t rng = 5;
    uint8_t *set_u8 = malloc((size_t)SET_ROWS * COLS);
    float *set_f32 = malloc((size_t)SET_ROWS * COLS * sizeof(float));
    int32_t *idx = malloc(ROWS * sizeof *idx);
    float *x = malloc((size_t)N * sizeof *x), *g = malloc((size_t)N * sizeof *g);
    float *logits = malloc((size_t)ROWS * CLASSES * sizeof *logits), *labels = malloc(ROWS * sizeof *labels);
    for (size_t i = 0; i < (size_t)SET_ROWS * COLS; i++)
        set_u8[i] = (uint8_t)(test_rand_u64(&rng) >> 56);
    test_fill_uniform(set_f32, (size_t)SET_ROWS * COLS, &rng, -2, 2);
    for (int r = 0; r < ROWS; r++) {
        idx[r] = (int32_t)(test_rand_u64(&rng) % SET_ROWS);
        labels[r] = (float)(r % CLASSES);
    }
    test_fill_uniform(x, N, &rng, -3, 3);
    test_fill_uniform(g, N, &rng, -1, 1);
    test_fill_uniform(logits, (size_t)ROWS * CLASSES, &rng, -4, 4);

    struct op_outputs one;
    cpu_threads_set(1);
    run_ops(be, &one, set_u8, set_f32, idx, x, g, logits, labels);
    for (int size = 2; size <= 4; size++) {
        struct op_outputs team;
        cpu_threads_set(size);
        run_ops(be, &team, set_u8, set_f32, idx, x, g, logits, labels);
        SAME_BITS(gathered, N);
        SAME_BITS(gathered_f32, N);
        SAME_BITS(params, N);
        SAME_BITS(velocity, N);
        SAME_BITS(adam_params, N);
        SAME_BITS(adam_m, N);
        SAME_BITS(adam_v, N);
        SAME_BITS(act, N);
        SAME_BITS(act_grad, N);
        SAME_BITS(dropped, N - 3);
        SAME_BITS(mask, N - 3);
        SAME_BITS(product, N);
        SAME_BITS(dbias, COLS);
        SAME_BITS(dlogits, ROWS * CLASSES);
        SAME_BITS(acc, ACC_SLOTS);
        outputs_free(&team);
    }
    /* and the gather is the gather: row idx[r], scaled */
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
            ck_assert(one.gathered[(size_t)r * COLS + c] == set_u8[(size_t)idx[r] * COLS + c] * (1 / 255.0f));
    outputs_free(&one);
    cpu_threads_set(0);
    be->destroy(be);
    free(set_u8), free(set_f32), free(idx), free(x), free(g), free(logits), free(labels);
}
END_TEST

Suite *suite_cpu_team(void)
{
    Suite *s = suite_create("cpu_team");
    TCase *tc = tcase_create("cpu_team");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, team_runs_every_chunk_once);
    tcase_add_test(tc, team_for_covers_every_index_once);
    tcase_add_test(tc, split_ops_give_one_threads_bits);
    suite_add_tcase(s, tc);
    return s;
}
