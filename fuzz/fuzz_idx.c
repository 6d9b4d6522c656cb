/* The IDX reader (raw and gzip) on any bytes, as images and as labels. */
#include <stdint.h>
#include <stdlib.h>

#include "../data/idx.h"
#include "input_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(0, data, size);
    uint8_t *bytes = NULL;
    size_t n, rows, cols;
    struct err e = {0};
    enum raw_cache_use use;
    if (idx_read_images(path, &bytes, &n, &rows, &cols, &use, &e) == 0 && n * rows * cols > 0)
        bytes[n * rows * cols - 1] ^= 1; /* the whole buffer is there (ASan checks) */
    free(bytes);
    bytes = NULL;
    e = (struct err){0};
    if (idx_read_labels(path, &bytes, &n, &use, &e) == 0 && n > 0)
        bytes[n - 1] ^= 1;
    free(bytes);
    return 0;
}
