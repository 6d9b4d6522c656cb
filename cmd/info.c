/* d2ltrain info: build, devices and library versions. */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <yaml.h>
#include <libdeflate.h>

#include "../core/comm.h"
#include "../core/cpu_gemm.h"
#include "args.h"
#include "cmd.h"
#ifdef D2L_CUDA
#include "../gpu/cuda_backend.h"
#endif

static const char usage[] = "usage: d2ltrain info\n"
                            "Prints the build, the GPUs and the libraries' versions.\n";

int cmd_info(int argc, char **argv)
{
    static const struct arg_option no_options[] = {{NULL}};
    struct err e = {0};
    struct args a = args_start(no_options, argc, argv);
    const char *v;
    for (int id; !e.code && (id = args_next(&a, &v, &e)) != ARG_DONE;) {
        if (id == ARG_HELP) {
            fputs(usage, stdout);
            return 0;
        }
        if (id == ARG_OPERAND)
            err_set(&e, EXIT_USAGE, "info takes no arguments, got '%s' (see --help)", v);
    }
    if (e.code)
        return report_error(&e);
    printf("d2ltrain %s\n", D2LTRAIN_VERSION);
#ifdef D2L_CUDA
    printf("build: CUDA backend compiled in (sm_80, sm_90, PTX); CPU backend\n");
#else
    printf("build: CPU backend only (built without nvcc)\n");
#endif
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    printf("libyaml %s, libcurl %s, %s, libdeflate %s, jansson %s\n", yaml_get_version_string(),
           curl && curl->version ? curl->version : "?", OpenSSL_version(OPENSSL_VERSION), LIBDEFLATE_VERSION_STRING,
           jansson_version_str());
    char gemm[128];
    cpu_gemm_describe(gemm, sizeof gemm);
    printf("CPU GEMM: %s, %d threads\n", gemm, cpu_threads_available());
    char mpi[256];
    comm_describe(mpi, sizeof mpi);
    printf("MPI: %s\n", mpi);
#ifdef D2L_CUDA
    cuda_print_info(stdout);
#else
    printf("GPU: not available in this build\n");
#endif
    return 0;
}
