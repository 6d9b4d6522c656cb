#include "cublas_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)
/* the soname of the cuBLAS whose header this was built against */
#define CUBLAS_SONAME "libcublas.so." STR(CUBLAS_VER_MAJOR)

static struct cublas_lib lib;
static bool loaded;
static char load_error[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

template <typename F> static bool find(void *handle, const char *name, F *fn)
{
    *fn = (F)dlsym(handle, name);
    if (!*fn)
        snprintf(load_error, sizeof load_error, "%s lacks %s: %s", CUBLAS_SONAME, name, dlerror());
    return *fn != NULL;
}

static void load(void)
{
    /* the executable's RUNPATH ($(CUDA)/lib64) is searched first, then the
     * usual places; the toolkit's own folder last */
    static const char *const names[] = {CUBLAS_SONAME, D2L_CUDA_LIB_DIR "/" CUBLAS_SONAME};
    void *handle = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !handle; i++)
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "cannot load cuBLAS (%s): %s", CUBLAS_SONAME, dlerror());
        return;
    }
    loaded = find(handle, "cublasCreate_v2", &lib.create) && find(handle, "cublasDestroy_v2", &lib.destroy) &&
             find(handle, "cublasSetStream_v2", &lib.set_stream) &&
             find(handle, "cublasSetWorkspace_v2", &lib.set_workspace) &&
             find(handle, "cublasSetMathMode", &lib.set_math_mode) && find(handle, "cublasSgemm_v2", &lib.sgemm) &&
             find(handle, "cublasGetProperty", &lib.get_property) &&
             find(handle, "cublasGetStatusString", &lib.status_string);
    /* the handle stays open for the life of the process */
}

const struct cublas_lib *cublas_lib(struct err *e)
{
    if (pthread_once(&load_once, load) || !loaded) {
        err_set(e, EXIT_RUNTIME, "%s", load_error[0] ? load_error : "cannot load cuBLAS");
        return NULL;
    }
    return &lib;
}

const char *cublas_status_string(cublasStatus_t st)
{
    return loaded ? lib.status_string(st) : "a cuBLAS error";
}
