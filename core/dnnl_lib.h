/* oneDNN, opened with dlopen when the CPU backend first starts rather than
 * linked: libgomp, its OpenMP runtime, reads OMP_WAIT_POLICY once, when it
 * loads, and a linked library loads before main can set it (cmd/main.c
 * makes passive waiting the default; docs/BENCH.md has the numbers). Also
 * a GPU run or `d2ltrain list` does not load 38 MB of it. */
#ifndef D2L_DNNL_LIB_H
#define D2L_DNNL_LIB_H

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include "error.h"

/* The oneDNN entry points the CPU backend (and bench_ops) use. */
#define DNNL_FUNCTIONS(X)                                                                         \
    X(engine_create) X(stream_create) X(stream_destroy) X(stream_wait) X(memory_desc_init_by_strides) \
    X(memory_desc_get_size) X(memory_create) X(memory_destroy) X(memory_set_data_handle)              \
    X(matmul_desc_init) X(primitive_attr_create) X(primitive_attr_destroy)                            \
    X(primitive_attr_set_scratchpad_mode) X(primitive_attr_set_fpmath_mode)                           \
    X(primitive_attr_set_output_scales) X(primitive_attr_set_post_ops) X(post_ops_create)             \
    X(post_ops_destroy) X(post_ops_append_sum) X(post_ops_append_eltwise) X(primitive_desc_create)    \
    X(primitive_desc_destroy) X(primitive_desc_query) X(primitive_desc_query_md) X(primitive_create)  \
    X(primitive_destroy) X(primitive_execute) X(version) X(get_effective_cpu_isa) X(sgemm)

struct dnnl_lib {
#define DNNL_FIELD(name) __typeof__(&dnnl_##name) name;
    DNNL_FUNCTIONS(DNNL_FIELD)
#undef DNNL_FIELD
    /* from libgomp, which libdnnl loads */
    __typeof__(&omp_get_max_threads) omp_get_max_threads;
    __typeof__(&omp_set_num_threads) omp_set_num_threads;
};

/* The library, loaded once per process (thread-safe); NULL with *e set
 * (EXIT_RUNTIME) when it cannot be loaded. */
const struct dnnl_lib *dnnl_lib(struct err *e);

#endif
