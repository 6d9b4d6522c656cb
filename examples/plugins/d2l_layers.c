/* d2l 5.4's custom layers against include/d2ltrain/layer.h:
 *   centered   CenteredLayer: x - mean(x) per row (as the built-in `centered`)
 *   my_linear  MyLinear: relu(x W^T + b), params: {units: N} (as linear + relu)
 * Built by `make` into BUILD/plugins/d2l_layers.so. */
#include <d2ltrain/layer.h>
#include <stdio.h>
#include <string.h>

static int centered_width(const struct d2l_settings *s, int in_width, char *err, size_t cap)
{
    if (s->n == 0)
        return in_width;
    snprintf(err, cap, "params.%s: centered takes no params", s->keys[0]);
    return -1;
}

static int no_tensors(const struct d2l_settings *s, int in_width, int out_width, struct d2l_tensor_shape *shapes)
{
    return 0;
}

static void center(const float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double sum = 0;
        for (int c = 0; c < cols; c++)
            sum += x[(size_t)r * cols + c];
        float mean = (float)(sum / cols);
        for (int c = 0; c < cols; c++)
            y[(size_t)r * cols + c] = x[(size_t)r * cols + c] - mean;
    }
}

static void centered_forward(const struct d2l_settings *s, int in_width, int out_width, const float *const *params,
                             const float *x, float *y, int rows)
{
    center(x, y, rows, in_width);
}

/* The Jacobian I - 1/n is symmetric: the backward centers dy. */
static void centered_backward(const struct d2l_settings *s, int in_width, int out_width, const float *const *params,
                              float *const *grads, const float *x, const float *y, const float *dy, float *dx,
                              int rows)
{
    if (dx)
        center(dy, dx, rows, in_width);
}

static int units(const struct d2l_settings *s)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->keys[i], "units") && s->values[i] >= 1 && s->values[i] <= 1e6 && s->values[i] == (int)s->values[i])
            return (int)s->values[i];
    return -1;
}

static int linear_width(const struct d2l_settings *s, int in_width, char *err, size_t cap)
{
    int n = units(s);
    if (n < 0 || s->n != 1)
        snprintf(err, cap, "params: my_linear takes exactly {units: N}, N a positive integer");
    return n < 0 || s->n != 1 ? -1 : n;
}

static int linear_tensors(const struct d2l_settings *s, int in_width, int out_width, struct d2l_tensor_shape *shapes)
{
    shapes[0] = (struct d2l_tensor_shape){"weight", out_width, in_width};
    shapes[1] = (struct d2l_tensor_shape){"bias", out_width, 0};
    return 2;
}

static void linear_forward(const struct d2l_settings *s, int in_width, int out_width, const float *const *params,
                           const float *x, float *y, int rows)
{
    const float *w = params[0], *b = params[1];
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out_width; o++) {
            float sum = b[o];
            for (int k = 0; k < in_width; k++)
                sum += x[(size_t)r * in_width + k] * w[(size_t)o * in_width + k];
            y[(size_t)r * out_width + o] = sum > 0 ? sum : 0;
        }
}

static void linear_backward(const struct d2l_settings *s, int in_width, int out_width, const float *const *params,
                            float *const *grads, const float *x, const float *y, const float *dy, float *dx, int rows)
{
    const float *w = params[0];
    float *dw = grads[0], *db = grads[1];
    for (int i = 0; i < out_width * in_width; i++)
        dw[i] = 0;
    for (int o = 0; o < out_width; o++)
        db[o] = 0;
    for (int i = 0; dx && i < rows * in_width; i++)
        dx[i] = 0;
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out_width; o++) {
            float g = y[(size_t)r * out_width + o] > 0 ? dy[(size_t)r * out_width + o] : 0; /* through the relu */
            db[o] += g;
            for (int k = 0; k < in_width; k++) {
                dw[(size_t)o * in_width + k] += g * x[(size_t)r * in_width + k];
                if (dx)
                    dx[(size_t)r * in_width + k] += g * w[(size_t)o * in_width + k];
            }
        }
}

static const struct d2l_layer_type layers[] = {
    {"centered", centered_width, no_tensors, centered_forward, centered_backward},
    {"my_linear", linear_width, linear_tensors, linear_forward, linear_backward},
};

static const struct d2l_plugin plugin = {D2L_PLUGIN_ABI, 2, layers};

const struct d2l_plugin *d2l_plugin_entry(void)
{
    return &plugin;
}
