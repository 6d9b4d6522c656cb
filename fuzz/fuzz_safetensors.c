/* The safetensors reader (core/checkpoint.c) on any bytes, for a fixed
 * model 5 -> linear(4) -> relu -> linear(3) -> relu -> linear(2, no bias). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/checkpoint.h"
#include "input_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct model *fixed_model(void)
{
    static struct model m;
    static struct spec s;
    static bool built;
    if (built)
        return &m;
    s.layers[0] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 4, .bias = true};
    s.layers[1] = (struct layer_spec){.kind = LAYER_RELU};
    s.layers[2] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 3, .bias = true};
    s.layers[3] = (struct layer_spec){.kind = LAYER_RELU};
    s.layers[4] = (struct layer_spec){.kind = LAYER_LINEAR, .out = 2, .bias = false};
    s.n_layers = 5;
    s.weight_init = (struct init_spec){INIT_ZEROS, 0, 0};
    struct err e = {0};
    struct backend *be = cpu_backend_create(false, &e);
    if (!be || model_build(&m, &s, be, 5, 4, &e))
        abort();
    built = true;
    return &m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model *m = fixed_model();
    float *params = calloc(m->n_params, sizeof *params);
    struct err e = {0};
    if (!params)
        abort();
    checkpoint_read(fuzz_input_file(0, data, size), m, params, &e);
    free(params);
    return 0;
}
