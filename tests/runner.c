/* Runs every Check suite in tests/ (the list is generated from the
 * `Suite *suite_NAME(void)` definitions by the Makefile). */
#include <check.h>
#include <stdlib.h>

#include "skip.h"

#define X(name) Suite *name(void);
#include "suites.h"
#undef X

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define X(name) srunner_add_suite(sr, name());
#include "suites.h"
#undef X
    srunner_run_all(sr, CK_NORMAL);
    tests_print_skipped(stdout);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
