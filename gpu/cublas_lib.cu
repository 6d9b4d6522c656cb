#include "cublas_lib.h"

#include <pthread.h>

#include "dl_open.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* the soname of the cuBLAS whose header this was built against */
#define CUBLAS_SONAME "libcublas.so." STR(CUBLAS_VER_MAJOR)

static struct cublas_lib lib;
static bool loaded;
static struct dl_lib so;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
    loaded = dl_open(&so, CUBLAS_SONAME, "cuBLAS") && dl_find(&so, "cublasCreate_v2", &lib.create) &&
             dl_find(&so, "cublasDestroy_v2", &lib.destroy) && dl_find(&so, "cublasSetStream_v2", &lib.set_stream) &&
             dl_find(&so, "cublasSetWorkspace_v2", &lib.set_workspace) &&
             dl_find(&so, "cublasSetMathMode", &lib.set_math_mode) && dl_find(&so, "cublasSgemm_v2", &lib.sgemm) &&
             dl_find(&so, "cublasGetProperty", &lib.get_property) &&
             dl_find(&so, "cublasGetStatusString", &lib.status_string);
}

const struct cublas_lib *cublas_lib(struct err *e)
{
    if (pthread_once(&load_once, load) || !loaded) {
        err_set(e, EXIT_RUNTIME, "%s", so.error[0] ? so.error : "cannot load cuBLAS");
        return NULL;
    }
    return &lib;
}

const char *cublas_status_string(cublasStatus_t st)
{
    return loaded ? lib.status_string(st) : "a cuBLAS error";
}
