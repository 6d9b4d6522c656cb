#include "round_trip.h"

#include <stdio.h>
#include <stdlib.h>

#include "../tests/spec_same.h"

void fuzz_check_round_trip(const struct spec *loaded)
{
    static struct spec reloaded;
    struct err e = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f || spec_write(loaded, f) || fclose(f))
        abort();
    size_t at;
    if (spec_load_string(&reloaded, "config.yaml", text, len, NULL, 0, &e)) {
        fprintf(stderr, "the effective spec does not load: %s\n%s", e.msg, text);
        abort();
    }
    if ((at = spec_difference(loaded, &reloaded))) {
        fprintf(stderr, "the effective spec loads to another struct (byte %zu of struct spec):\n%s", at - 1, text);
        abort();
    }
    free(text);
}
