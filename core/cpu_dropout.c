/* Dropout on the CPU: dropout_uniform's draws (core/backend.h), four
 * elements per Philox call, element g of the global batch being word g % 4
 * of counter g / 4. Where the processor has AVX2 the counters run four at
 * a time in vector lanes: the same words, so the same masks to the bit
 * (tests/test_ops.c holds both to dropout_uniform); a scalar Philox call
 * is most of the op's time, and dropout was the slowest of the programs
 * against PyTorch (docs/BENCH.md). */
#include "cpu_dropout.h"

#include <math.h>
#include <stdbool.h>

#include "backend.h"
#include "cpu_team.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

struct dropout_job {
    float *out, *mask;
    const float *in;
    float p, keep_scale;
    uint32_t keep_from; /* a word w keeps its element iff w >> 8 >= keep_from */
    uint64_t key, hi;
    uint64_t first; /* the global batch's index of element 0 */
};

/* Elements [begin, end), one scalar Philox call per counter. */
static void dropout_scalar(const struct dropout_job *j, size_t begin, size_t end)
{
    struct philox4 r;
    for (size_t i = begin; i < end; i++) {
        uint64_t g = j->first + i;
        if (i == begin || g % 4 == 0) /* one philox draw gives 4 elements' numbers */
            r = philox4x32(j->hi, g / 4, j->key);
        float m = philox_uniform(r.v[g % 4]) >= j->p ? j->keep_scale : 0.0f;
        j->mask[i] = m;
        j->out[i] = j->in[i] * m;
    }
}

#if defined(__x86_64__)
/* Elements [begin, begin + 16 * groups), the first of them word 0 of a
 * counter: four counters (16 elements) a group, philox4x32 in the 64-bit
 * lanes of four vectors. _mm256_mul_epu32 multiplies the lanes' low 32
 * bits, so the high halves may hold anything and only the low ones are
 * the words. */
__attribute__((target("avx2"))) static void dropout_avx2(const struct dropout_job *j, size_t begin, size_t groups)
{
    const __m256i mul0 = _mm256_set1_epi64x(0xD2511F53), mul1 = _mm256_set1_epi64x(0xCD9E8D57);
    const __m256i hi_lo = _mm256_set1_epi64x((uint32_t)j->hi), hi_hi = _mm256_set1_epi64x(j->hi >> 32);
    const __m256i keep_above = _mm256_set1_epi32((int)j->keep_from - 1);
    const __m256 scale = _mm256_set1_ps(j->keep_scale);
    __m256i counter = _mm256_add_epi64(_mm256_set1_epi64x((long long)((j->first + begin) / 4)),
                                       _mm256_setr_epi64x(0, 1, 2, 3));
    for (size_t grp = 0; grp < groups; grp++) {
        __m256i c0 = counter, c1 = _mm256_srli_epi64(counter, 32), c2 = hi_lo, c3 = hi_hi;
        uint32_t k0 = (uint32_t)j->key, k1 = (uint32_t)(j->key >> 32);
        for (int round = 0; round < 10; round++) {
            __m256i p0 = _mm256_mul_epu32(c0, mul0), p1 = _mm256_mul_epu32(c2, mul1);
            c0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1), _mm256_set1_epi64x(k0));
            c2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3), _mm256_set1_epi64x(k1));
            c1 = p1;
            c3 = p0;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        counter = _mm256_add_epi64(counter, _mm256_set1_epi64x(4));
        /* lanes to element order: counter l's words 0..3 are elements 4l..4l+3 */
        __m256i w01 = _mm256_blend_epi32(c0, _mm256_slli_epi64(c1, 32), 0xAA);
        __m256i w23 = _mm256_blend_epi32(c2, _mm256_slli_epi64(c3, 32), 0xAA);
        __m256i even = _mm256_unpacklo_epi64(w01, w23), odd = _mm256_unpackhi_epi64(w01, w23);
        __m256i words[2] = {_mm256_permute2x128_si256(even, odd, 0x20), _mm256_permute2x128_si256(even, odd, 0x31)};
        for (int h = 0; h < 2; h++) {
            size_t i = begin + 16 * grp + 8 * (size_t)h;
            __m256i keep = _mm256_cmpgt_epi32(_mm256_srli_epi32(words[h], 8), keep_above);
            __m256 m = _mm256_and_ps(_mm256_castsi256_ps(keep), scale);
            _mm256_storeu_ps(j->mask + i, m);
            _mm256_storeu_ps(j->out + i, _mm256_mul_ps(_mm256_loadu_ps(j->in + i), m));
        }
    }
}
#endif

static bool have_avx2(void)
{
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

static void dropout_range(void *arg, size_t begin, size_t end)
{
    const struct dropout_job j = *(const struct dropout_job *)arg; /* a local: the stores cannot alias it */
    if (!have_avx2() || end - begin < 32) {
        dropout_scalar(&j, begin, end);
        return;
    }
    size_t aligned = begin + (4 - (j.first + begin) % 4) % 4, groups = (end - aligned) / 16;
    dropout_scalar(&j, begin, aligned);
#if defined(__x86_64__)
    dropout_avx2(&j, aligned, groups);
#endif
    dropout_scalar(&j, aligned + 16 * groups, end);
}

void cpu_dropout_forward(struct backend *be, float *out, float *mask, const float *in, size_t n, uint64_t first,
                         float p, uint64_t seed, uint32_t layer_id, const uint64_t *step)
{
    /* philox_uniform(w) = (w >> 8) * 2^-24 exactly, and p * 2^24 is exact
     * in double: the comparison with p in integers */
    struct dropout_job j = {.out = out, .mask = mask, .in = in, .p = p, .keep_scale = 1.0f / (1.0f - p),
                            .keep_from = (uint32_t)ceil((double)p * 16777216.0),
                            .key = dropout_key(seed), .hi = dropout_counter_hi(layer_id, *step),
                            .first = first};
    cpu_team_for(n, CPU_TEAM_BLOCK_FLOATS, TEAM_AWAKE_ONLY, dropout_range, &j);
}
