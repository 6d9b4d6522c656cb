/* The CPU backend's dropout forward (core/cpu_dropout.c). */
#ifndef D2L_CPU_DROPOUT_H
#define D2L_CPU_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

struct backend;

/* out = in * mask, mask[i] = 1 / (1 - p) where dropout_uniform(seed,
 * layer_id, *step, first + i) >= p, else 0: the backend op. */
void cpu_dropout_forward(struct backend *be, float *out, float *mask, const float *in, size_t n, uint64_t first,
                         float p, uint64_t seed, uint32_t layer_id, const uint64_t *step);

#endif
