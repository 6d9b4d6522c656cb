#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t test_rand_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double test_rand_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(test_rand_u64(state) >> 11) * (1.0 / 9007199254740992.0);
}

void test_fill_uniform(float *x, size_t n, uint64_t *state, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)test_rand_uniform(state, lo, hi);
}

double test_rel_err(double got, double want, double floor)
{
    double scale = fabs(want) > floor ? fabs(want) : floor;
    double err = fabs(got - want) / scale;
    return isnan(err) ? INFINITY : err;
}

double test_max_rel_err(const float *got, const double *want, size_t n, double floor)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double err = test_rel_err(got[i], want[i], floor);
        worst = err > worst ? err : worst;
    }
    return worst;
}

struct backend *test_cpu_backend(void)
{
    struct err e = {0};
    struct backend *be = cpu_backend_create(false, &e);
    ck_assert_msg(be != NULL, "cpu_backend_create: %s", e.msg);
    return be;
}

char *test_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *text = NULL, buf[4096];
    size_t len = 0, n;
    FILE *mem = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(mem);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, mem), n);
    ck_assert_msg(!ferror(f), "cannot read %s", path);
    fclose(f);
    ck_assert_int_eq(fclose(mem), 0);
    return text;
}
