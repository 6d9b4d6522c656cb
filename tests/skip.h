/* Tests that cannot run here (no GPU, no data) are not added to their
 * suite, so they never count in Check's "100%: Checks: N"; each suite
 * records them here and the runner prints one line per reason, e.g.
 * "skipped: 16 tests (no GPU)". */
#ifndef D2L_TEST_SKIP_H
#define D2L_TEST_SKIP_H

#include <stdio.h>

/* n tests of suite `suite` (its suite_create name) are left out for `why`;
 * printed only when that suite runs (CK_RUN_SUITE unset or naming it). */
void tests_skipped(const char *suite, int n, const char *why);
void tests_print_skipped(FILE *f);

#endif
