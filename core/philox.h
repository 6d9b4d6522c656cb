/* Philox-4x32-10 (Salmon et al., SC'11), counter based: the same (key,
 * counter) gives the same four words on the host and on the device, which
 * is what lets init, shuffling and dropout match between backends. */
#ifndef D2L_PHILOX_H
#define D2L_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define PHILOX_FN __host__ __device__ static inline
#else
#define PHILOX_FN static inline
#endif

/* Streams keep independent uses of one seed apart. */
enum rng_stream {
    RNG_INIT = 1,
    RNG_SHUFFLE = 2,
    RNG_DROPOUT = 3,
    RNG_DATA = 4,
    RNG_FOLD = 5,
};

struct philox4 {
    uint32_t v[4];
};

PHILOX_FN struct philox4 philox4x32(uint64_t counter_hi, uint64_t counter_lo, uint64_t key)
{
    uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
    uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    struct philox4 r = {{c0, c1, c2, c3}};
    return r;
}

/* The key of a (seed, stream) pair. */
PHILOX_FN uint64_t philox_key(uint64_t seed, uint32_t stream)
{
    return seed ^ ((uint64_t)stream * 0x9E3779B97F4A7C15ull);
}

/* A uniform float in [0, 1) from 24 random bits. */
PHILOX_FN float philox_uniform(uint32_t bits)
{
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}

#endif
