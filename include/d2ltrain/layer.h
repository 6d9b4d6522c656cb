/* d2ltrain's custom layers: the C answer to "write your own nn.Module".
 *
 * A shared object exports one function, D2L_PLUGIN_ENTRY:
 *
 *     const struct d2l_plugin *d2l_plugin_entry(void);
 *
 * returning its ABI version (D2L_PLUGIN_ABI when built against this
 * header) and its layer types. A spec uses one as
 *
 *     - plugin: {path: ./my_layer.so, name: my_linear, params: {units: 8}}
 *
 * Layers are stateless: every call gets the layer's settings (the spec's
 * `params`, numbers only) and widths. Buffers are host memory, row-major
 * float32, so a plugin layer runs on the CPU backend only (a GPU run
 * refuses it, naming the layer). Parameter tensors are allocated,
 * initialised (2-D ones with the spec's weight init, 1-D ones with its bias
 * init), updated and saved by d2ltrain, named "<module>.<tensor name>". */
#ifndef D2LTRAIN_LAYER_H
#define D2LTRAIN_LAYER_H

#include <stddef.h>

#define D2L_PLUGIN_ABI 1
#define D2L_PLUGIN_ENTRY "d2l_plugin_entry"
#define D2L_MAX_SETTINGS 8
#define D2L_MAX_TENSORS 4

/* The spec's `params:` of the layer. */
struct d2l_settings {
    int n;
    const char *keys[D2L_MAX_SETTINGS];
    double values[D2L_MAX_SETTINGS];
};

/* A parameter tensor: [rows, cols], or a vector [rows] when cols is 0. */
struct d2l_tensor_shape {
    const char *name; /* "weight", "bias": the last part of its parameter name */
    int rows, cols;
};

struct d2l_layer_type {
    const char *name;
    /* The output width for this input width, or -1 after writing why
     * (one line, e.g. "params.units: expected a positive integer") into err. */
    int (*out_width)(const struct d2l_settings *s, int in_width, char *err, size_t err_cap);
    /* Fills shapes (at most D2L_MAX_TENSORS) and returns how many. */
    int (*tensors)(const struct d2l_settings *s, int in_width, int out_width, struct d2l_tensor_shape *shapes);
    /* y[rows, out_width] from x[rows, in_width]; params[i] as tensors() said. */
    void (*forward)(const struct d2l_settings *s, int in_width, int out_width, const float *const *params,
                    const float *x, float *y, int rows);
    /* From dy = d loss / d y: writes (overwrites) grads[i] = d loss / d params[i], and dx = d loss / d x
     * unless dx is NULL (nothing below needs it). y is forward's output. */
    void (*backward)(const struct d2l_settings *s, int in_width, int out_width, const float *const *params,
                     float *const *grads, const float *x, const float *y, const float *dy, float *dx, int rows);
};

struct d2l_plugin {
    int abi_version; /* D2L_PLUGIN_ABI */
    int n_layers;
    const struct d2l_layer_type *layers;
};

const struct d2l_plugin *d2l_plugin_entry(void);

#endif
