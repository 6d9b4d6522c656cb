/* The racecheck filter's control, for scripts/gpu-check.sh: one shared-memory
 * race (each thread writes its cell and reads its neighbour's with no
 * barrier between, so lane 31 of warp 0 reads what warp 1 writes) under two
 * names. `race_canary ours` launches it as d2l_race_canary_kernel, which
 * racecheck with gpu-check's filter (kns=d2l_) must report; `race_canary
 * theirs` launches it under a name shaped like cuBLAS's, which racecheck
 * reports unfiltered and the filter must leave alone. Without this, a
 * filter matching nothing would pass every racecheck run. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

#define CANARY_THREADS 64 /* two warps: racecheck reports hazards between warps */

#define RACE_BODY                                                                                 \
    __shared__ int cells[CANARY_THREADS];                                                         \
    cells[threadIdx.x] = threadIdx.x;                                                             \
    out[threadIdx.x] = cells[(threadIdx.x + 1) % CANARY_THREADS];

__global__ void d2l_race_canary_kernel(int *out) { RACE_BODY }

__global__ void sm80_race_canary_execute_kernel__5x_cublas(int *out) { RACE_BODY }

static int check(cudaError_t rc, const char *call)
{
    if (rc != cudaSuccess)
        fprintf(stderr, "race_canary: %s: %s\n", call, cudaGetErrorString(rc));
    return rc != cudaSuccess;
}

int main(int argc, char **argv)
{
    bool ours = argc == 2 && !strcmp(argv[1], "ours");
    if (argc != 2 || (!ours && strcmp(argv[1], "theirs"))) {
        fprintf(stderr, "usage: race_canary ours|theirs\n");
        return 2;
    }
    int *out = NULL;
    if (check(cudaMalloc(&out, CANARY_THREADS * sizeof *out), "cudaMalloc"))
        return 1;
    if (ours)
        d2l_race_canary_kernel<<<1, CANARY_THREADS>>>(out);
    else
        sm80_race_canary_execute_kernel__5x_cublas<<<1, CANARY_THREADS>>>(out);
    int failed = check(cudaGetLastError(), "launch") || check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    failed |= check(cudaFree(out), "cudaFree");
    printf("race_canary: %s kernel ran\n", ours ? "d2l_" : "cuBLAS-named");
    return failed;
}
