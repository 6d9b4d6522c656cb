/* What cublas_lib.cu and nccl_lib.cu share: a library opened with dlopen
 * by soname (the executable's RUNPATH first, then the usual places, then
 * the build's CUDA lib64) and its entry points looked up, the first
 * failure kept as a message. */
#ifndef D2L_DL_OPEN_H
#define D2L_DL_OPEN_H

#include <dlfcn.h>
#include <stdio.h>

struct dl_lib {
    const char *soname;
    void *handle;
    char error[512]; /* the first failure; empty while none */
};

/* Opens soname, else the CUDA toolkit's copy; false with lib->error set.
 * The handle stays open for the life of the process. */
static inline bool dl_open(struct dl_lib *lib, const char *soname, const char *what)
{
    char in_cuda[512];
    snprintf(in_cuda, sizeof in_cuda, "%s/%s", D2L_CUDA_LIB_DIR, soname);
    lib->soname = soname;
    lib->handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle)
        lib->handle = dlopen(in_cuda, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle)
        snprintf(lib->error, sizeof lib->error, "cannot load %s (%s): %s", what, soname, dlerror());
    return lib->handle != NULL;
}

/* *fn = the entry point `name`; false with lib->error set. */
template <typename F> static inline bool dl_find(struct dl_lib *lib, const char *name, F *fn)
{
    *fn = (F)dlsym(lib->handle, name);
    if (!*fn)
        snprintf(lib->error, sizeof lib->error, "%s lacks %s: %s", lib->soname, name, dlerror());
    return *fn != NULL;
}

#endif
