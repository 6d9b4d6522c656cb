/* The spec fuzzers' oracle for a spec that loads: spec_write's effective
 * spec loads back to the same struct (tests/spec_same.c). */
#ifndef D2L_FUZZ_ROUND_TRIP_H
#define D2L_FUZZ_ROUND_TRIP_H

#include "../core/spec.h"

/* Aborts, with the effective spec on stderr, when the round trip fails. */
void fuzz_check_round_trip(const struct spec *loaded);

#endif
