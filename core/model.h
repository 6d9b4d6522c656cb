/* A sequential model on a backend: layers, one allocation each for the
 * parameters, their gradients and the optimizer state, and the activation
 * buffers for the largest batch. */
#ifndef D2L_MODEL_H
#define D2L_MODEL_H

#include "backend.h"
#include "spec.h"

struct layer {
    enum layer_kind kind;
    int in, out;       /* feature widths */
    bool bias;
    float p;           /* dropout */
    uint32_t id;       /* numbers the layer's dropout masks */
    size_t w_off, b_off; /* offsets of weight [out, in] and bias [out] in params */
    float *buf;        /* owned output buffer [max_batch, out] (none for flatten) */
    float *mask;       /* dropout mask [max_batch, out] */
    const float *y;    /* output of the last forward: buf, or the input for flatten and eval dropout */
};

struct model {
    struct backend *be;
    uint64_t seed;
    int n_layers;
    struct layer layers[SPEC_MAX_LAYERS];
    int in_width, out_width, max_batch;
    int first_linear; /* layers below it have no parameters: backward stops there */
    size_t n_params;
    float *params, *grads, *opt_m, *opt_v; /* device, n_params each */
    float *scratch[2];                     /* backward ping-pong, [max_batch, widest] */
    float *dout;                           /* d(loss)/d(output), [max_batch, out_width] */
};

/* Builds the layers of s for inputs of width in_width, allocates on be and
 * initialises the parameters from (s->seed, RNG_INIT). */
int model_build(struct model *m, const struct spec *s, struct backend *be, int in_width, int max_batch,
                struct err *e);
void model_free(struct model *m);

/* Forward pass of `rows` rows; returns the output activations. */
const float *model_forward(struct model *m, const float *x, int rows, bool training, const uint64_t *step);
/* Backward from m->dout (already holding d loss / d output); fills grads. */
void model_backward(struct model *m, const float *x, int rows);

/* Host-side parameter initialisation (shared by both backends). */
void init_fill(float *w, size_t n, const struct init_spec *init, int fan_in, int fan_out, uint64_t seed,
               uint64_t counter);

#endif
