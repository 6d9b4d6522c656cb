/* Parameter initialisation on the host from the shared Philox stream, so
 * every backend starts from the same numbers. Fan-based schemes follow
 * torch.nn.init. */
#include <math.h>

#include "model.h"

/* Standard normal pairs by Box-Muller from one Philox block. */
static void normal_pair(uint64_t seed, uint64_t counter, float out[2])
{
    struct philox4 r = philox4x32(0, counter, philox_key(seed, RNG_INIT));
    double u1 = ((r.v[0] >> 8) + 1.0) / 16777217.0; /* (0, 1]: log is finite */
    double u2 = (r.v[1] >> 8) / 16777216.0;
    double radius = sqrt(-2.0 * log(u1));
    out[0] = (float)(radius * cos(2 * M_PI * u2));
    out[1] = (float)(radius * sin(2 * M_PI * u2));
}

static float uniform01(uint64_t seed, uint64_t counter)
{
    struct philox4 r = philox4x32(1, counter, philox_key(seed, RNG_INIT));
    return philox_uniform(r.v[0]);
}

static void fill_normal(float *w, size_t n, double mean, double std, uint64_t seed, uint64_t counter)
{
    for (size_t i = 0; i < n; i += 2) {
        float z[2];
        normal_pair(seed, counter + i / 2, z);
        w[i] = (float)(mean + std * z[0]);
        if (i + 1 < n)
            w[i + 1] = (float)(mean + std * z[1]);
    }
}

static void fill_uniform(float *w, size_t n, double low, double high, uint64_t seed, uint64_t counter)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(low + (high - low) * uniform01(seed, counter + i));
}

void init_fill(float *w, size_t n, const struct init_spec *init, int fan_in, int fan_out, uint64_t seed,
               uint64_t counter)
{
    double xavier = sqrt(2.0 / (fan_in + fan_out)), kaiming = sqrt(2.0 / fan_in);
    switch (init->kind) {
    case INIT_NORMAL:
        fill_normal(w, n, init->a, init->b, seed, counter);
        break;
    case INIT_UNIFORM:
        fill_uniform(w, n, init->a, init->b, seed, counter);
        break;
    case INIT_XAVIER_UNIFORM:
        fill_uniform(w, n, -init->a * sqrt(3.0) * xavier, init->a * sqrt(3.0) * xavier, seed, counter);
        break;
    case INIT_XAVIER_NORMAL:
        fill_normal(w, n, 0, init->a * xavier, seed, counter);
        break;
    case INIT_KAIMING_UNIFORM:
        fill_uniform(w, n, -sqrt(3.0) * kaiming, sqrt(3.0) * kaiming, seed, counter);
        break;
    case INIT_KAIMING_NORMAL:
        fill_normal(w, n, 0, kaiming, seed, counter);
        break;
    case INIT_CONSTANT:
        for (size_t i = 0; i < n; i++)
            w[i] = (float)init->a;
        break;
    case INIT_ZEROS:
        for (size_t i = 0; i < n; i++)
            w[i] = 0;
        break;
    case INIT_TORCH_DEFAULT: /* kaiming_uniform(a=sqrt(5)): gain sqrt(1/3), bound gain * sqrt(3 / fan_in) */
        fill_uniform(w, n, -1 / sqrt(fan_in), 1 / sqrt(fan_in), seed, counter);
        break;
    case INIT_MY_INIT:
        fill_uniform(w, n, -10, 10, seed, counter);
        for (size_t i = 0; i < n; i++)
            w[i] = fabsf(w[i]) >= 5 ? w[i] : 0;
        break;
    case INIT_KIND_COUNT:
        break;
    }
}
