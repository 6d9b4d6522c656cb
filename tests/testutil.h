/* Helpers shared by the numeric test suites: a fixed-seed generator for
 * test data (independent of the Philox code under test), float64 error
 * measures and a CPU backend that must exist. */
#ifndef D2L_TESTUTIL_H
#define D2L_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/backend.h"

/* splitmix64: a state the test owns, so data never depends on the RNG
 * being tested. */
uint64_t test_rand_u64(uint64_t *state);
/* Uniform double in [lo, hi). */
double test_rand_uniform(uint64_t *state, double lo, double hi);
void test_fill_uniform(float *x, size_t n, uint64_t *state, double lo, double hi);

/* max_i |got[i] - want[i]| / max(|want[i]|, floor): relative error for
 * large values, absolute (scaled by floor) near zero. */
double test_max_rel_err(const float *got, const double *want, size_t n, double floor);
/* The same for a scalar. */
double test_rel_err(double got, double want, double floor);

/* The whole file at path, NUL-terminated (malloc'd); fails the running
 * test when it cannot be read. */
char *test_read_text(const char *path);

/* A CPU backend; fails the running test when it cannot be made. */
struct backend *test_cpu_backend(void);

#endif
