/* The CUDA backend's life cycle: device choice, stream and cuBLAS handle,
 * device memory, CUDA graphs, the op table, error reporting and `info`. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

#define CUBLAS_WORKSPACE_BYTES ((size_t)32 << 20)

static const char *cuda_hint(cudaError_t rc)
{
    switch (rc) {
    case cudaErrorMemoryAllocation:
        return "out of GPU memory; try a smaller data.batch_size";
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorInitializationError:
        return "check nvidia-smi, the driver and CUDA_VISIBLE_DEVICES, or use --device cpu";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
        return "this build has code for sm_80 and sm_90 only; rebuild with this GPU's -gencode";
    case cudaErrorIllegalAddress:
    case cudaErrorMisalignedAddress:
    case cudaErrorLaunchFailure:
        return "a kernel touched memory it does not own; rerun under compute-sanitizer";
    case cudaErrorStreamCaptureUnsupported:
    case cudaErrorStreamCaptureInvalidated:
    case cudaErrorStreamCaptureImplicit:
        return "an op that cannot be recorded ran inside graph_run";
    default:
        return "rerun with CUDA_LAUNCH_BLOCKING=1 to find the failing op";
    }
}

void cuda_fail(cudaError_t rc, const char *call, const char *file, int line)
{
    fprintf(stderr, "d2ltrain: CUDA error at %s:%d: %s: %s (%s)\n", file, line, call,
            cudaGetErrorString(rc), cuda_hint(rc));
    exit(EXIT_RUNTIME);
}

void cublas_fail(cublasStatus_t st, const char *call, const char *file, int line)
{
    const char *hint = st == CUBLAS_STATUS_ALLOC_FAILED ? "out of GPU memory; try a smaller data.batch_size"
                       : st == CUBLAS_STATUS_INVALID_VALUE ? "a GEMM got a bad shape or leading dimension"
                                                           : "rerun with CUDA_LAUNCH_BLOCKING=1 to find the failing op";
    fprintf(stderr, "d2ltrain: CUDA error at %s:%d: %s: %s (%s)\n", file, line, call,
            cublas_status_string(st), hint);
    exit(EXIT_RUNTIME);
}

extern "C" int cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

/* Why the runtime sees no GPU (rc from cudaGetDeviceCount), in words:
 * without a driver the runtime's own message speaks of versions. */
static const char *no_gpu_reason(cudaError_t rc)
{
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0)
        return "no NVIDIA driver is loaded";
    return rc == cudaSuccess ? "the CUDA runtime sees no device" : cudaGetErrorString(rc);
}

/* 13000 -> "13.0" */
static void print_version(FILE *out, const char *what, cudaError_t rc, int v)
{
    if (rc != cudaSuccess || v == 0)
        fprintf(out, "%s unknown", what);
    else
        fprintf(out, "%s %d.%d", what, v / 1000, v % 1000 / 10);
}

extern "C" void cuda_print_info(FILE *out)
{
    int runtime = 0, driver = 0, blas[3] = {0, 0, 0};
    cudaError_t rc_runtime = cudaRuntimeGetVersion(&runtime);
    cudaError_t rc_driver = cudaDriverGetVersion(&driver);
    struct err why = {0};
    const struct cublas_lib *lib = cublas_lib(&why);
    bool blas_ok = lib && lib->get_property(MAJOR_VERSION, &blas[0]) == CUBLAS_STATUS_SUCCESS &&
                   lib->get_property(MINOR_VERSION, &blas[1]) == CUBLAS_STATUS_SUCCESS &&
                   lib->get_property(PATCH_LEVEL, &blas[2]) == CUBLAS_STATUS_SUCCESS;
    fprintf(out, "cuda: ");
    print_version(out, "runtime", rc_runtime, runtime);
    print_version(out, ", driver", rc_driver, driver);
    if (blas_ok)
        fprintf(out, ", cuBLAS %d.%d.%d\n", blas[0], blas[1], blas[2]);
    else
        fprintf(out, ", cuBLAS unknown (%s)\n", lib ? "no version" : why.msg);

    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess || n == 0) {
        cudaGetLastError();
        fprintf(out, "no GPU: %s\n", no_gpu_reason(rc));
        return;
    }
    for (int i = 0; i < n; i++) {
        cudaDeviceProp prop;
        rc = cudaGetDeviceProperties(&prop, i);
        if (rc != cudaSuccess) {
            cudaGetLastError();
            fprintf(out, "cuda:%d: %s\n", i, cudaGetErrorString(rc));
            continue;
        }
        fprintf(out, "cuda:%d: %s, %.1f GiB, compute capability %d.%d, %d SMs\n", i, prop.name,
                (double)prop.totalGlobalMem / (1 << 30), prop.major, prop.minor,
                prop.multiProcessorCount);
    }
}

static void *cuda_alloc(struct backend *be, size_t bytes, struct err *e)
{
    void *p = NULL;
    cudaError_t rc = cudaMalloc(&p, bytes ? bytes : 1); /* NULL means failure */
    if (rc == cudaSuccess)
        return p;
    cudaGetLastError(); /* clear the error so later calls do not see it */
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess)
        cudaGetLastError();
    const double mib = 1 << 20;
    if (rc == cudaErrorMemoryAllocation)
        err_set(e, EXIT_RUNTIME,
                "out of GPU memory: asked for %zu bytes (%.1f MiB), %.1f MiB free of %.1f MiB; "
                "try a smaller data.batch_size",
                bytes, bytes / mib, free_bytes / mib, total_bytes / mib);
    else
        err_set(e, EXIT_RUNTIME, "cannot allocate %zu bytes (%.1f MiB) on %s: %s", bytes,
                bytes / mib, be->name, cudaGetErrorString(rc));
    return NULL;
}

static void cuda_release(struct backend *be, void *p)
{
    CUDA_CHECK(cudaFree(p));
}

/* Pageable host memory, which the caller may free on return: CUDA only
 * says such a copy "may" be staged before cudaMemcpyAsync returns, so wait
 * for it. Uploads happen at set-up and between epochs, never per step. */
static void cuda_upload(struct backend *be, void *dst, const void *src, size_t bytes)
{
    struct cuda_impl *c = cuda_of(be);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
}

static void cuda_download(struct backend *be, void *dst, const void *src, size_t bytes)
{
    struct cuda_impl *c = cuda_of(be);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
}

/* Runs body(arg) directly the first time `key` is seen (which also loads
 * every kernel it uses, lazily, outside any capture), records it the second
 * time and replays the record after: one launch for a whole epoch. The
 * table keeps the latest CUDA_GRAPH_SLOTS keys; a new key takes the oldest
 * slot (a graph still running is freed when it completes), and a key seen
 * again after that starts over. */
static void cuda_graph_run(struct backend *be, int key, void (*body)(void *arg), void *arg)
{
    struct cuda_impl *c = cuda_of(be);
    if (c->direct) {
        body(arg);
        return;
    }
    struct cuda_graph_slot *slot = NULL;
    for (int i = 0; i < c->n_graphs && !slot; i++)
        if (c->graphs[i].key == key)
            slot = &c->graphs[i];
    if (slot && slot->exec) {
        CUDA_CHECK(cudaGraphLaunch(slot->exec, c->stream));
        return;
    }
    if (!slot) {
        slot = &c->graphs[c->n_recorded % CUDA_GRAPH_SLOTS];
        if (c->n_graphs == CUDA_GRAPH_SLOTS && slot->exec)
            CUDA_CHECK(cudaGraphExecDestroy(slot->exec));
        else if (c->n_graphs < CUDA_GRAPH_SLOTS)
            c->n_graphs++;
        c->n_recorded++;
        *slot = (struct cuda_graph_slot){.key = key, .exec = NULL};
        body(arg);
        return;
    }
    cudaGraph_t graph;
    CUDA_CHECK(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    body(arg);
    CUDA_CHECK(cudaStreamEndCapture(c->stream, &graph));
    CUDA_CHECK(cudaGraphInstantiate(&slot->exec, graph, 0));
    CUDA_CHECK(cudaGraphDestroy(graph));
    CUDA_CHECK(cudaGraphLaunch(slot->exec, c->stream));
}

static void cuda_destroy(struct backend *be)
{
    if (!be)
        return;
    struct cuda_impl *c = cuda_of(be);
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    cuda_allreduce_stop(c);
    for (int i = 0; i < c->n_graphs; i++)
        if (c->graphs[i].exec)
            CUDA_CHECK(cudaGraphExecDestroy(c->graphs[i].exec));
    CUBLAS_CHECK(c->blas->destroy(c->cublas));
    CUDA_CHECK(cudaFree(c->cublas_workspace));
    CUDA_CHECK(cudaStreamDestroy(c->stream));
    free(c);
    free(be);
}

static const struct backend cuda_ops = {
    .name = "cuda",
    .impl = NULL,
    .host_memory = false,
    .shared_by_threads = false,
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .graph_run = cuda_graph_run,
    .fill = cuda_fill,
    .fill_f64 = cuda_fill_f64,
    .step_advance = cuda_step_advance,
    .gemm = cuda_gemm,
    .linear_forward = cuda_linear_forward,
    .bias_add = cuda_bias_add,
    .bias_grad = cuda_bias_grad,
    .act_forward = cuda_act_forward,
    .act_backward = cuda_act_backward,
    .dropout_forward = cuda_dropout_forward,
    .mul = cuda_mul,
    .center_rows = cuda_center_rows,
    .softmax_forward = cuda_softmax_forward,
    .softmax_backward = cuda_softmax_backward,
    .cross_entropy = cuda_cross_entropy,
    .nll = cuda_nll,
    .regression_loss = cuda_regression_loss,
    .log_sq_error = cuda_log_sq_error,
    .penalty = cuda_penalty,
    .gather_u8 = cuda_gather_u8,
    .gather_f32 = cuda_gather_f32,
    .sum_squares = cuda_sum_squares,
    .clip_scale = cuda_clip_scale,
    .sgd_step = cuda_sgd_step,
    .adam_step = cuda_adam_step,
    .allreduce_start = cuda_allreduce_start,
    .allreduce = cuda_allreduce,
};

/* Device selection and its failures are the user's to fix (no GPU, wrong
 * index, busy device), so they come back through *e; so does an allocation
 * failure. */
static void *load_cublas(void *unused)
{
    struct err ignored = {0}; /* cuda_backend_create asks again and reports */
    cublas_lib(&ignored);
    return NULL;
}

static bool pick_device(int device_index, struct err *e)
{
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess || n == 0) {
        cudaGetLastError();
        err_set(e, EXIT_RUNTIME, "device cuda:%d: no usable GPU: %s; use --device cpu", device_index,
                no_gpu_reason(rc));
        return false;
    }
    if (device_index < 0 || device_index >= n) {
        err_set(e, EXIT_RUNTIME, "no GPU cuda:%d: %d GPU%s visible (cuda:0 to cuda:%d)", device_index,
                n, n == 1 ? "" : "s", n - 1);
        return false;
    }
    /* Creating the context and loading cuBLAS take a few hundred
     * milliseconds each and need nothing of each other. */
    pthread_t loader;
    bool loading = !pthread_create(&loader, NULL, load_cublas, NULL);
    rc = cudaSetDevice(device_index);
    if (rc == cudaSuccess)
        rc = cudaFree(NULL); /* creates the context now, so its failure is reported here */
    if (loading)
        pthread_join(loader, NULL);
    if (rc != cudaSuccess) {
        cudaGetLastError();
        err_set(e, EXIT_RUNTIME, "cannot use GPU cuda:%d: %s", device_index, cudaGetErrorString(rc));
        return false;
    }
    return true;
}

extern "C" struct backend *cuda_backend_create(int device_index, bool allow_tf32, struct err *e)
{
    if (!pick_device(device_index, e))
        return NULL;
    struct backend *be = (struct backend *)malloc(sizeof *be);
    struct cuda_impl *c = (struct cuda_impl *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        err_set(e, EXIT_RUNTIME, "out of host memory creating the CUDA backend");
        return NULL;
    }
    *be = cuda_ops;
    be->impl = c;
    c->device = device_index;
    /* for telling a graph problem from a kernel problem, and for timing
     * what graphs save */
    const char *graphs = getenv("D2L_CUDA_GRAPHS");
    c->direct = graphs && !strcmp(graphs, "0");
    be->replays_graphs = !c->direct;
    snprintf(c->name, sizeof c->name, "cuda:%d", device_index);
    be->name = c->name;

    struct err why = {0};
    if (!(c->blas = cublas_lib(&why))) {
        err_set(e, EXIT_RUNTIME, "cannot start %s: %s", be->name, why.msg);
        free(c);
        free(be);
        return NULL;
    }
    const struct cublas_lib *blas = c->blas;
    cudaError_t rc = cudaMalloc(&c->cublas_workspace, CUBLAS_WORKSPACE_BYTES);
    if (rc == cudaSuccess)
        rc = cudaDeviceGetAttribute(&c->sm_count, cudaDevAttrMultiProcessorCount, device_index);
    if (rc == cudaSuccess)
        rc = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (rc == cudaSuccess && (st = blas->create(&c->cublas)) == CUBLAS_STATUS_SUCCESS &&
        (st = blas->set_stream(c->cublas, c->stream)) == CUBLAS_STATUS_SUCCESS &&
        /* after SetStream, which resets the workspace to cuBLAS's own pool */
        (st = blas->set_workspace(c->cublas, c->cublas_workspace, CUBLAS_WORKSPACE_BYTES)) == CUBLAS_STATUS_SUCCESS &&
        (st = blas->set_math_mode(c->cublas, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)) ==
            CUBLAS_STATUS_SUCCESS)
        return be;
    /* A device that will not start is the user's to hear about (and auto's
     * to pass over), not a crash. The undoing reports nothing more. */
    cudaGetLastError();
    err_set(e, EXIT_RUNTIME, "cannot start %s: %s", be->name,
            rc != cudaSuccess ? cudaGetErrorString(rc) : blas->status_string(st));
    if (c->cublas)
        (void)blas->destroy(c->cublas);
    if (c->stream)
        (void)cudaStreamDestroy(c->stream);
    if (c->cublas_workspace)
        (void)cudaFree(c->cublas_workspace);
    cudaGetLastError();
    free(c);
    free(be);
    return NULL;
}
