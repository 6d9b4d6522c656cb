#include "nccl_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define NCCL_SONAME "libnccl.so.2"

static struct nccl_lib lib;
static bool loaded;
static char load_error[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

template <typename F> static bool find(void *handle, const char *name, F *fn)
{
    *fn = (F)dlsym(handle, name);
    if (!*fn)
        snprintf(load_error, sizeof load_error, "%s lacks %s: %s", NCCL_SONAME, name, dlerror());
    return *fn != NULL;
}

static void load(void)
{
    static const char *const names[] = {NCCL_SONAME, D2L_CUDA_LIB_DIR "/" NCCL_SONAME};
    void *handle = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !handle; i++)
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "cannot load NCCL (%s): %s", NCCL_SONAME, dlerror());
        return;
    }
    loaded = find(handle, "ncclGetVersion", &lib.get_version) &&
             find(handle, "ncclGetUniqueId", &lib.get_unique_id) &&
             find(handle, "ncclCommInitRank", &lib.comm_init_rank) &&
             find(handle, "ncclCommDestroy", &lib.comm_destroy) && find(handle, "ncclAllReduce", &lib.all_reduce) &&
             find(handle, "ncclGetErrorString", &lib.error_string);
    /* the handle stays open for the life of the process */
}

const struct nccl_lib *nccl_lib(struct err *e)
{
    if (pthread_once(&load_once, load) || !loaded) {
        err_set(e, EXIT_RUNTIME, "%s", load_error[0] ? load_error : "cannot load NCCL");
        return NULL;
    }
    return &lib;
}
