/* The spec loader on any bytes: no crash, no sanitizer report, and a spec
 * that loads round-trips: spec_write's effective spec loads back to the
 * same struct (tests/spec_same.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/spec.h"
#include "../tests/spec_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct spec loaded, reloaded;
    struct err e = {0};
    if (spec_load_string(&loaded, "fuzz.yaml", (const char *)data, size, NULL, 0, &e))
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f || spec_write(&loaded, f) || fclose(f))
        abort();
    size_t at;
    if (spec_load_string(&reloaded, "config.yaml", text, len, NULL, 0, &e)) {
        fprintf(stderr, "the effective spec does not load: %s\n%s", e.msg, text);
        abort();
    }
    if ((at = spec_difference(&loaded, &reloaded))) {
        fprintf(stderr, "the effective spec loads to another struct (byte %zu of struct spec):\n%s", at - 1, text);
        abort();
    }
    free(text);
    return 0;
}
