/* A sequential model on a backend: layers, one allocation each for the
 * parameters, their gradients and the optimizer state, and the activation
 * buffers for the largest batch. */
#ifndef D2L_MODEL_H
#define D2L_MODEL_H

#include "backend.h"
#include "plugin.h"
#include "spec.h"

struct layer {
    enum layer_kind kind;
    int in, out;       /* feature widths */
    bool bias;
    float p;           /* dropout */
    uint32_t id;       /* numbers the layer's dropout masks */
    int owner;         /* the layer whose tensors a linear layer uses: itself, or the one it shares */
    bool accumulate;   /* a later layer shares these tensors: backward adds to their gradient */
    int weight, bias_tensor; /* linear: indices in model.tensors (bias_tensor -1 without bias) */
    struct plugin_handle plugin;  /* plugin: the open shared object and layer type */
    struct d2l_settings settings; /* plugin: its params (keys point into the spec) */
    int first_tensor, n_own;      /* plugin: its tensors in model.tensors */
    size_t w_off, b_off; /* offsets of weight [out, in] and bias [out] in params */
    float *buf;        /* owned output buffer [max_batch, out] (none for flatten) */
    float *mask;       /* dropout mask [max_batch, out] */
    const float *y;    /* output of the last forward: buf, or the input for flatten and eval dropout */
    char module[SPEC_MODULE_LEN]; /* PyTorch's module name, "0.1" */
};

/* A parameter tensor: a weight [rows, cols] or a bias [rows] (cols 0) at
 * params[off ..]. A tied tensor is one tensor, named after its first use
 * (as named_parameters() and safetensors' save_model name it). */
struct param_tensor {
    char name[SPEC_MODULE_LEN + 8]; /* "0.1.weight" */
    int layer;                      /* the layer that owns it */
    size_t rows, cols, off;
    bool frozen; /* `trainable: false` or --freeze: no gradient, no update, no decay */
};

#define MODEL_MAX_TENSORS (2 * SPEC_MAX_LAYERS)

struct model {
    struct backend *be;
    uint64_t seed;
    int n_layers;
    struct layer layers[SPEC_MAX_LAYERS];
    struct param_tensor tensors[MODEL_MAX_TENSORS];
    int n_tensors;
    int in_width, out_width, max_batch;
    int batch_row0; /* the global batch row of the rows forward gets: a data-parallel rank's slice
                       draws its dropout masks as one process does for those rows (0 otherwise) */
    int first_trainable; /* the lowest layer using a trainable tensor: backward stops there (n_layers: none) */
    size_t n_params;
    float *params, *grads, *opt_m, *opt_v; /* device, n_params each */
    float *scratch[2];                     /* backward ping-pong, [max_batch, widest] */
    float *dout;                           /* d(loss)/d(output), [max_batch, out_width] */
};

/* Elements of a tensor. */
static inline size_t tensor_count(const struct param_tensor *t)
{
    return t->rows * (t->cols ? t->cols : 1);
}

/* Builds the layers of s for inputs of width in_width, allocates on be and
 * initialises the parameters from (s->seed, RNG_INIT). */
int model_build(struct model *m, const struct spec *s, struct backend *be, int in_width, int max_batch,
                struct err *e);
void model_free(struct model *m);

/* Freezes every tensor one of whose names (any use of a tied tensor)
 * matches the fnmatch(3) pattern; returns how many matched. */
int model_freeze(struct model *m, const char *pattern);

/* The k-th name of tensor t as PyTorch's state_dict() lists it: k 0 is t's
 * own name, k > 0 the uses of a tied tensor after the first. Returns false
 * past the last. */
bool model_tensor_alias(const struct model *m, const struct param_tensor *t, int k, char *name, size_t cap);

/* Forward pass of `rows` rows; returns the output activations. */
const float *model_forward(struct model *m, const float *x, int rows, bool training, const uint64_t *step);
/* Backward from m->dout (already holding d loss / d output); fills grads. */
void model_backward(struct model *m, const float *x, int rows);

/* Host-side parameter initialisation (shared by both backends). */
void init_fill(float *w, size_t n, const struct init_spec *init, int fan_in, int fan_out, uint64_t seed,
               uint64_t counter);

#endif
