#include "dnnl_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)
/* the soname of the oneDNN whose header this was built against */
#define DNNL_SONAME "libdnnl.so." STR(DNNL_VERSION_MAJOR)

static struct dnnl_lib lib;
static bool loaded;
static char load_error[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static bool find(void *handle, const char *name, void **fn)
{
    *fn = dlsym(handle, name);
    if (!*fn)
        snprintf(load_error, sizeof load_error, "%s lacks %s: %s", DNNL_SONAME, name, dlerror());
    return *fn != NULL;
}

static void load(void)
{
    void *handle = dlopen(DNNL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "cannot load oneDNN (%s; Debian: libdnnl2): %s", DNNL_SONAME,
                 dlerror());
        return;
    }
    /* POSIX: a function pointer may be stored through a void * */
    loaded =
#define DNNL_FIND(name) find(handle, "dnnl_" #name, (void **)&lib.name) &&
        DNNL_FUNCTIONS(DNNL_FIND)
#undef DNNL_FIND
        find(handle, "omp_get_max_threads", (void **)&lib.omp_get_max_threads) &&
        find(handle, "omp_set_num_threads", (void **)&lib.omp_set_num_threads);
    /* the handle stays open for the life of the process */
}

const struct dnnl_lib *dnnl_lib(struct err *e)
{
    if (pthread_once(&load_once, load) || !loaded) {
        err_set(e, EXIT_RUNTIME, "%s", load_error[0] ? load_error : "cannot load oneDNN");
        return NULL;
    }
    return &lib;
}

#ifdef __SANITIZE_ADDRESS__
/* Under AddressSanitizer (make test-san): GCC 12's LeakSanitizer reads a
 * bogus dynamic-TLS range for the OpenMP threads of the dlopen'd oneDNN and
 * crashes in its exit-time leak check ("Tracer caught signal 11"); it does
 * not when it leaves __tls_get_addr alone, which costs it only the dynamic
 * TLS blocks as roots. ASAN_OPTIONS still overrides this. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "intercept_tls_get_addr=0"; }
#endif
