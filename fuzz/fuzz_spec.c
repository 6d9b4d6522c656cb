/* The spec loader on any bytes: no crash, no sanitizer report, and a spec
 * that loads round-trips (fuzz/round_trip.c). */
#include <stdint.h>

#include "../core/spec.h"
#include "round_trip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct spec loaded;
    struct err e = {0};
    if (!spec_load_string(&loaded, "fuzz.yaml", (const char *)data, size, NULL, 0, &e))
        fuzz_check_round_trip(&loaded);
    return 0;
}
