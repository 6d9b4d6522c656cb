#include "nccl_lib.h"

#include <pthread.h>

#include "dl_open.h"

static struct nccl_lib lib;
static bool loaded;
static struct dl_lib so;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
    loaded = dl_open(&so, "libnccl.so.2", "NCCL") &&
             dl_find(&so, "ncclGetUniqueId", &lib.get_unique_id) &&
             dl_find(&so, "ncclCommInitRank", &lib.comm_init_rank) &&
             dl_find(&so, "ncclCommDestroy", &lib.comm_destroy) && dl_find(&so, "ncclAllReduce", &lib.all_reduce) &&
             dl_find(&so, "ncclGetErrorString", &lib.error_string);
}

const struct nccl_lib *nccl_lib(struct err *e)
{
    if (pthread_once(&load_once, load) || !loaded) {
        err_set(e, EXIT_RUNTIME, "%s", so.error[0] ? so.error : "cannot load NCCL");
        return NULL;
    }
    return &lib;
}
