/* GEMMs through oneDNN's matmul primitive. A primitive is made for one
 * shape, layout and epilogue: creating it (picking and JIT-compiling a
 * kernel) costs far more than a small GEMM, so each thread keeps the ones
 * it made, keyed by everything that went into them. */
#include "cpu_gemm.h"

#include "cpu_team.h"
#include "dnnl_lib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNNL_CHECK(call)                                                                          \
    do {                                                                                          \
        dnnl_status_t st_ = (call);                                                               \
        if (st_ != dnnl_success)                                                                  \
            dnnl_fail(st_, #call, __LINE__);                                                      \
    } while (0)

static void dnnl_fail(dnnl_status_t st, const char *call, int line)
{
    const char *why = st == dnnl_out_of_memory ? "out of memory; try a smaller data.batch_size"
                      : st == dnnl_invalid_arguments ? "a GEMM got a bad shape or leading dimension"
                      : st == dnnl_unimplemented ? "no oneDNN implementation for this GEMM"
                                                 : "oneDNN runtime error";
    fprintf(stderr, "d2ltrain: oneDNN error at %s:%d: %s: status %d (%s)\n", __FILE__, line, call, (int)st, why);
    exit(EXIT_RUNTIME);
}

/* Everything a primitive depends on; all 4-byte fields, so no padding
 * and memcmp compares keys. */
struct gemm_key {
    int bf16, trans_a, trans_b, m, n, k, lda, ldb, ldc, has_bias, has_act, act;
    float alpha, beta;
};

enum { ARG_SRC, ARG_WEIGHTS, ARG_BIAS, ARG_DST, ARG_SCRATCHPAD, N_ARGS };

struct gemm_entry {
    struct gemm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t mem[N_ARGS];
    void *scratchpad;
};

/* GEMMs of fewer flops run on the calling thread alone: that is about
 * 20-40 us of work on one core, where a second thread saves little. Larger
 * ones are split into one slice of rows (or columns) per thread of the
 * team (core/cpu_team.h), each a one-thread oneDNN GEMM: the slices depend
 * on the shape and the team's size only. oneDNN's own OpenMP team is not
 * used: its passive wait cost a futex wake per GEMM, its spinning a
 * collapse on a busy machine (docs/BENCH.md). */
#define ONE_THREAD_FLOPS (1 << 22)
/* slices are whole multiples of this many rows or columns */
enum { SLICE_ALIGN = 16 };

/* Enough for every shape of a run (each layer's three GEMMs at the batch,
 * the last batch and the evaluation batch); beyond it the oldest goes. */
enum { CACHE_SLOTS = 64 };

struct gemm_cache {
    dnnl_stream_t stream;
    int used, next_victim;
    struct gemm_entry entries[CACHE_SLOTS];
};

static const struct dnnl_lib *dl;
static struct err load_err;
static dnnl_engine_t engine;
static dnnl_status_t engine_status;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;
static _Thread_local struct gemm_cache *thread_cache;

static void entry_free(struct gemm_entry *en)
{
    for (int i = 0; i < N_ARGS; i++)
        if (en->mem[i])
            dl->memory_destroy(en->mem[i]);
    if (en->prim)
        dl->primitive_destroy(en->prim);
    free(en->scratchpad);
    memset(en, 0, sizeof *en);
}

static void cache_free(void *arg)
{
    struct gemm_cache *c = arg;
    if (!c)
        return;
    for (int i = 0; i < c->used; i++)
        entry_free(&c->entries[i]);
    dl->stream_destroy(c->stream);
    free(c);
}

static void engine_start(void)
{
    if (!(dl = dnnl_lib(&load_err)))
        return;
    engine_status = dl->engine_create(&engine, dnnl_cpu, 0);
    if (engine_status == dnnl_success && pthread_key_create(&cache_key, cache_free))
        engine_status = dnnl_runtime_error;
}

static struct gemm_cache *cache_here(void)
{
    if (thread_cache)
        return thread_cache;
    struct gemm_cache *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "d2ltrain: out of memory for the GEMM cache\n");
        exit(EXIT_RUNTIME);
    }
    DNNL_CHECK(dl->stream_create(&c->stream, engine, dnnl_stream_default_flags));
    if (pthread_setspecific(cache_key, c)) {
        fprintf(stderr, "d2ltrain: cannot register the GEMM cache's thread destructor\n");
        exit(EXIT_RUNTIME);
    }
    return thread_cache = c;
}

void cpu_gemm_release_thread(void)
{
    if (!thread_cache)
        return;
    pthread_setspecific(cache_key, NULL);
    cache_free(thread_cache);
    thread_cache = NULL;
}

/* A rows x cols row-major matrix with leading dimension ld, or, stored
 * transposed, its [cols, rows] storage read with swapped strides. */
static void matrix_md(dnnl_memory_desc_t *md, int rows, int cols, int ld, bool transposed)
{
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {transposed ? 1 : ld, transposed ? ld : 1};
    DNNL_CHECK(dl->memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides));
}

static dnnl_alg_kind_t eltwise_of(enum activation act)
{
    switch (act) {
    case ACT_RELU:
        return dnnl_eltwise_relu;
    case ACT_SIGMOID:
        return dnnl_eltwise_logistic;
    case ACT_TANH:
        return dnnl_eltwise_tanh;
    }
    return dnnl_alg_kind_undef;
}

static dnnl_primitive_attr_t attr_of(const struct gemm_key *key)
{
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t ops;
    DNNL_CHECK(dl->primitive_attr_create(&attr));
    DNNL_CHECK(dl->primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    DNNL_CHECK(dl->primitive_attr_set_fpmath_mode(attr, key->bf16 ? dnnl_fpmath_mode_bf16
                                                                   : dnnl_fpmath_mode_strict));
    if (key->alpha != 1.0f)
        DNNL_CHECK(dl->primitive_attr_set_output_scales(attr, 1, 0, &key->alpha));
    DNNL_CHECK(dl->post_ops_create(&ops));
    if (key->beta != 0.0f)
        DNNL_CHECK(dl->post_ops_append_sum(ops, key->beta));
    if (key->has_act)
        DNNL_CHECK(dl->post_ops_append_eltwise(ops, 1.0f, eltwise_of((enum activation)key->act), 0.0f, 0.0f));
    DNNL_CHECK(dl->primitive_attr_set_post_ops(attr, ops));
    dl->post_ops_destroy(ops);
    return attr;
}

/* The memory descriptors of key's operands (but the scratchpad) and its
 * primitive descriptor. */
static dnnl_primitive_desc_t pd_make(const struct gemm_key *key, dnnl_memory_desc_t md[N_ARGS])
{
    matrix_md(&md[ARG_SRC], key->m, key->k, key->lda, key->trans_a);
    matrix_md(&md[ARG_WEIGHTS], key->k, key->n, key->ldb, key->trans_b);
    matrix_md(&md[ARG_BIAS], 1, key->n, key->n, false);
    matrix_md(&md[ARG_DST], key->m, key->n, key->ldc, false);
    dnnl_matmul_desc_t desc;
    DNNL_CHECK(dl->matmul_desc_init(&desc, &md[ARG_SRC], &md[ARG_WEIGHTS], key->has_bias ? &md[ARG_BIAS] : NULL,
                                     &md[ARG_DST]));
    dnnl_primitive_attr_t attr = attr_of(key);
    dnnl_primitive_desc_t pd;
    DNNL_CHECK(dl->primitive_desc_create(&pd, &desc, attr, engine, NULL));
    dl->primitive_attr_destroy(attr);
    return pd;
}

/* Whether oneDNN computes an FP32 GEMM in bf16 when allowed: whether the
 * MLP's layer-1 GEMM gets another kernel with fpmath mode bf16 than in
 * strict mode (oneDNN 2.6 has such kernels for AMX only, and ignores the
 * mode elsewhere). Asked once, after the engine started. */
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;
static bool bf16_kernel;

static void bf16_probe(void)
{
    char impl[2][128];
    for (int bf16 = 0; bf16 < 2; bf16++) {
        struct gemm_key key = {.bf16 = bf16, .trans_b = 1, .m = 256, .n = 256, .k = 784, .lda = 784, .ldb = 784,
                               .ldc = 256, .alpha = 1};
        dnnl_memory_desc_t md[N_ARGS];
        dnnl_primitive_desc_t pd = pd_make(&key, md);
        const char *name = "";
        DNNL_CHECK(dl->primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
        snprintf(impl[bf16], sizeof impl[bf16], "%s", name);
        dl->primitive_desc_destroy(pd);
    }
    bf16_kernel = strcmp(impl[0], impl[1]) != 0;
}

bool cpu_gemm_bf16_usable(void)
{
    pthread_once(&bf16_once, bf16_probe);
    return bf16_kernel;
}

static void entry_make(struct gemm_entry *en, const struct gemm_key *key)
{
    dnnl_memory_desc_t md[N_ARGS];
    dnnl_primitive_desc_t pd = pd_make(key, md);
    md[ARG_SCRATCHPAD] = *dl->primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t scratch_bytes = dl->memory_desc_get_size(&md[ARG_SCRATCHPAD]);
    en->key = *key;
    DNNL_CHECK(dl->primitive_create(&en->prim, pd));
    dl->primitive_desc_destroy(pd);
    if (scratch_bytes && !(en->scratchpad = aligned_alloc(64, (scratch_bytes + 63) / 64 * 64))) {
        fprintf(stderr, "d2ltrain: out of memory: a GEMM's %zu-byte scratchpad\n", scratch_bytes);
        exit(EXIT_RUNTIME);
    }
    for (int i = 0; i < N_ARGS; i++)
        if (i != ARG_SCRATCHPAD || scratch_bytes)
            DNNL_CHECK(dl->memory_create(&en->mem[i], &md[i], engine,
                                          i == ARG_SCRATCHPAD ? en->scratchpad : DNNL_MEMORY_NONE));
}

static struct gemm_entry *entry_for(struct gemm_cache *c, const struct gemm_key *key)
{
    for (int i = 0; i < c->used; i++)
        if (!memcmp(&c->entries[i].key, key, sizeof *key))
            return &c->entries[i];
    struct gemm_entry *en;
    if (c->used < CACHE_SLOTS) {
        en = &c->entries[c->used++];
    } else {
        en = &c->entries[c->next_victim];
        c->next_victim = (c->next_victim + 1) % CACHE_SLOTS;
        entry_free(en);
    }
    entry_make(en, key);
    return en;
}

/* The GEMM on the calling thread alone. */
static void gemm_one(bool bf16, bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda,
                     const float *b, int ldb, float *c, int ldc, const struct gemm_epilogue *ep)
{
    struct gemm_key key = {.bf16 = bf16, .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k,
                           .lda = lda, .ldb = ldb, .ldc = ldc, .has_bias = ep->bias != NULL,
                           .has_act = ep->has_act, .act = ep->has_act ? (int)ep->act : 0,
                           .alpha = ep->alpha, .beta = ep->beta};
    /* oneDNN sizes its team from the calling thread's OpenMP setting when
     * it makes the primitive and when it runs it */
    if (dl->omp_get_max_threads() != 1)
        dl->omp_set_num_threads(1);
    struct gemm_cache *cache = cache_here();
    struct gemm_entry *en = entry_for(cache, &key);
    void *handles[N_ARGS] = {(void *)a, (void *)b, (void *)ep->bias, c, en->scratchpad};
    static const int arg_ids[N_ARGS] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST,
                                        DNNL_ARG_SCRATCHPAD};
    dnnl_exec_arg_t args[N_ARGS];
    int nargs = 0;
    for (int i = 0; i < N_ARGS; i++) {
        if (!en->mem[i] || (i == ARG_BIAS && !key.has_bias))
            continue;
        if (i != ARG_SCRATCHPAD)
            DNNL_CHECK(dl->memory_set_data_handle(en->mem[i], handles[i]));
        args[nargs++] = (dnnl_exec_arg_t){arg_ids[i], en->mem[i]};
    }
    DNNL_CHECK(dl->primitive_execute(en->prim, cache->stream, nargs, args));
    DNNL_CHECK(dl->stream_wait(cache->stream));
}

/* A GEMM split into slices of C's rows (by_rows) or columns, `slice` wide. */
struct gemm_split {
    bool bf16, trans_a, trans_b, by_rows;
    int m, n, k, lda, ldb, ldc, slice;
    const float *a, *b;
    float *c;
    const struct gemm_epilogue *ep;
};

static void gemm_slice(void *arg, int chunk)
{
    const struct gemm_split *g = arg;
    int first = chunk * g->slice, total = g->by_rows ? g->m : g->n;
    int len = total - first < g->slice ? total - first : g->slice;
    if (g->by_rows) { /* rows of op(A) and C */
        gemm_one(g->bf16, g->trans_a, g->trans_b, len, g->n, g->k, g->a + (g->trans_a ? (size_t)first : (size_t)first * g->lda),
                 g->lda, g->b, g->ldb, g->c + (size_t)first * g->ldc, g->ldc, g->ep);
    } else { /* columns of op(B), C and the bias */
        struct gemm_epilogue ep = *g->ep;
        if (ep.bias)
            ep.bias += first;
        gemm_one(g->bf16, g->trans_a, g->trans_b, g->m, len, g->k, g->a, g->lda,
                 g->b + (g->trans_b ? (size_t)first * g->ldb : (size_t)first), g->ldb, g->c + first, g->ldc, &ep);
    }
}

void cpu_gemm_run(bool bf16, bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float *c, int ldc, const struct gemm_epilogue *ep)
{
    if (m <= 0 || n <= 0)
        return;
    int team = cpu_team_size();
    if (team < 2 || 2.0 * m * n * k < ONE_THREAD_FLOPS) {
        gemm_one(bf16, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, ep);
        return;
    }
    /* rows where there are enough: a slice of rows costs less than one of
     * columns (it keeps oneDNN's blocking of N and K), and at the MLP's
     * shapes here gives the same bits as one call */
    bool by_rows = m >= n || m >= team * SLICE_ALIGN;
    int total = by_rows ? m : n;
    int per_thread = (total + team - 1) / team;
    int slice = (per_thread + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
    struct gemm_split g = {.bf16 = bf16, .trans_a = trans_a, .trans_b = trans_b, .by_rows = by_rows, .m = m, .n = n,
                           .k = k, .lda = lda, .ldb = ldb, .ldc = ldc, .slice = slice, .a = a, .b = b, .c = c, .ep = ep};
    cpu_team_run((total + slice - 1) / slice, TEAM_WAKE, gemm_slice, &g);
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_all:
        return "all";
    case dnnl_cpu_isa_sse41:
        return "sse41";
    case dnnl_cpu_isa_avx:
        return "avx";
    case dnnl_cpu_isa_avx2:
        return "avx2";
    case dnnl_cpu_isa_avx512_mic:
        return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
        return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
        return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni:
        return "avx2_vnni";
    }
    return "unknown";
}

int cpu_gemm_start(bool *bf16, struct err *e)
{
    pthread_once(&engine_once, engine_start);
    if (!dl)
        return err_set(e, EXIT_RUNTIME, "%s", load_err.msg);
    if (engine_status != dnnl_success)
        return err_set(e, EXIT_RUNTIME, "cannot start oneDNN's CPU engine (status %d)", (int)engine_status);
    if (*bf16 && !cpu_gemm_bf16_usable()) {
        const dnnl_version_t *v = dl->version();
        fprintf(stderr, "d2ltrain: cpu_bf16: oneDNN %d.%d has no bf16 kernel for FP32 GEMMs on this processor "
                        "(ISA %s); the CPU GEMMs stay FP32\n", v->major, v->minor, isa_name(dl->get_effective_cpu_isa()));
        *bf16 = false;
    }
    return 0;
}

void cpu_gemm_describe(char *buf, size_t size)
{
    pthread_once(&engine_once, engine_start);
    if (!dl) {
        snprintf(buf, size, "not available: %s", load_err.msg);
        return;
    }
    const dnnl_version_t *v = dl->version();
    snprintf(buf, size, "oneDNN %d.%d.%d (%s), ISA %s", v->major, v->minor, v->patch,
             v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other threading", isa_name(dl->get_effective_cpu_isa()));
}
