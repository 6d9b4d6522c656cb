#include "skip.h"

#include <stdlib.h>
#include <string.h>

static struct {
    int n;
    char why[200];
} skipped[16];
static int n_reasons;

void tests_skipped(const char *suite, int n, const char *why)
{
    const char *only = getenv("CK_RUN_SUITE");
    if (only && *only && strcmp(only, suite) != 0)
        return;
    if (n_reasons == (int)(sizeof skipped / sizeof skipped[0]))
        abort(); /* a new reason: make the table larger */
    skipped[n_reasons].n = n;
    snprintf(skipped[n_reasons].why, sizeof skipped[n_reasons].why, "%s", why);
    n_reasons++;
}

void tests_print_skipped(FILE *f)
{
    for (int i = 0; i < n_reasons; i++)
        fprintf(f, "skipped: %d test%s (%s)\n", skipped[i].n, skipped[i].n == 1 ? "" : "s", skipped[i].why);
}
