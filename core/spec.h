/* The experiment spec: a YAML file loaded into plain structs with every key
 * checked (core/spec.c). Everything downstream reads these structs only. */
#ifndef D2L_SPEC_H
#define D2L_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../data/preprocess.h"
#include "error.h"

#define SPEC_MAX_LAYERS 128 /* after blocks and repeats are expanded */
#define SPEC_MAX_ITEMS 128  /* items written in model and blocks together */
#define SPEC_MAX_LIST 32    /* items in one list (model or a block) */
#define SPEC_MAX_BLOCKS 32
#define SPEC_MAX_DEPTH 8    /* blocks nested in blocks */
#define SPEC_MAX_REPEAT 64
#define SPEC_ID_LEN 32      /* layer and block names */
#define SPEC_MODULE_LEN 96  /* a module's PyTorch path, "0.block 1.2" */
#define SPEC_MAX_PLUGINS 8  /* plugin layers written in model and blocks */
#define SPEC_MAX_SETTINGS 8 /* a plugin layer's params (D2L_MAX_SETTINGS) */
#define SPEC_MAX_VALUES 256
#define SPEC_NAME_LEN 128

/* Where a key stood in the spec file (1-based), for errors found after
 * loading, e.g. a loss that does not fit the data. */
struct mark {
    int line, col;
    const char *set; /* the `--set path=value` it came from (line 0), or NULL */
};

enum layer_kind {
    LAYER_LINEAR,
    LAYER_FLATTEN,
    LAYER_RELU,
    LAYER_SIGMOID,
    LAYER_TANH,
    LAYER_DROPOUT,
    LAYER_SOFTMAX,
    LAYER_CENTERED, /* x - mean(x) per row: d2l's CenteredLayer */
    LAYER_PLUGIN,   /* a custom layer from a shared object (include/d2ltrain/layer.h) */
    LAYER_KIND_COUNT
};

enum init_kind {
    INIT_NORMAL,          /* a = mean, b = std */
    INIT_UNIFORM,         /* a = low, b = high */
    INIT_XAVIER_UNIFORM,  /* a = gain */
    INIT_XAVIER_NORMAL,   /* a = gain */
    INIT_KAIMING_UNIFORM, /* fan_in, relu gain, as torch's kaiming_uniform_(nonlinearity='relu') */
    INIT_KAIMING_NORMAL,
    INIT_CONSTANT, /* a = value */
    INIT_ZEROS,
    INIT_TORCH_DEFAULT, /* nn.Linear's own: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weight and bias alike */
    INIT_MY_INIT,       /* d2l 5.3's my_init: U(-10, 10), then 0 where |w| < 5 */
    INIT_KIND_COUNT
};

struct init_spec {
    enum init_kind kind;
    double a, b;
};

struct layer_spec {
    enum layer_kind kind;
    int out;   /* linear */
    bool bias; /* linear, default true */
    double p;  /* dropout, [0, 1) */
    int plugin; /* plugin: index in spec.plugins */
    /* linear only: */
    char name[SPEC_ID_LEN];  /* `name:`, what `share:` refers to; "" none */
    char share[SPEC_ID_LEN]; /* `share:`: the named layer whose tensors this one uses */
    bool frozen;             /* `trainable: false` (a share takes its owner's) */
    bool own_weight_init, own_bias_init; /* `init:` given: these win over the global ones */
    struct init_spec weight_init, bias_init;
    /* set when blocks are expanded into spec.layers: */
    int owner;                    /* share: the index in spec.layers of the named layer */
    char module[SPEC_MODULE_LEN]; /* PyTorch's name of the module, "0.1.2"; "" in a hand-made spec: its index */
    struct mark at;
};

/* An entry of `model:` or of a block: a layer, a block used once, or a
 * block repeated (each copy a child of the list it stands in). */
enum item_kind { ITEM_LAYER, ITEM_BLOCK, ITEM_REPEAT };

struct item_spec {
    enum item_kind kind;
    struct layer_spec layer;   /* ITEM_LAYER */
    int block;                 /* ITEM_BLOCK, ITEM_REPEAT: index in spec.blocks */
    int times;                 /* ITEM_REPEAT, 1..SPEC_MAX_REPEAT */
    char prefix[SPEC_ID_LEN];  /* ITEM_REPEAT: copies named prefix0, prefix1, ... (add_module); "" by position */
    struct mark at;
};

struct item_list {
    int first, n; /* spec.items[first .. first + n) */
};

/* `plugin: {path: ./x.so, name: my_linear, params: {units: 8}}` */
struct plugin_spec {
    char path[512];
    char name[SPEC_ID_LEN];
    int n_settings;
    char keys[SPEC_MAX_SETTINGS][SPEC_ID_LEN];
    double values[SPEC_MAX_SETTINGS];
};

struct block_spec {
    char name[SPEC_ID_LEN];
    struct item_list items;
    struct mark at;
};

enum loss_kind { LOSS_MSE, LOSS_SQUARED, LOSS_HUBER, LOSS_L1, LOSS_CROSS_ENTROPY, LOSS_NLL, LOSS_KIND_COUNT };

struct loss_spec {
    enum loss_kind kind;
    double delta; /* huber, default 1 */
    struct mark at;
};

enum optim_kind { OPT_SGD, OPT_ADAM, OPT_KIND_COUNT };

struct optim_spec {
    enum optim_kind kind;
    double lr;
    double momentum;     /* sgd, default 0 */
    double weight_decay; /* default 0 */
    double beta1, beta2; /* adam, default 0.9, 0.999 */
    double eps;          /* adam, default 1e-8 */
    bool decay_bias;     /* weight decay on biases too (torch default: true) */
};

enum penalty_kind { PENALTY_NONE, PENALTY_L1, PENALTY_L2 };

struct penalty_spec {
    enum penalty_kind kind;
    double lambda; /* loss += lambda * (l2: sum w^2 / 2 | l1: sum |w|), weights only */
};

enum dataset_kind {
    DATASET_SYNTHETIC_LINEAR, /* y = X w + b + N(0, noise^2), X ~ N(0, 1) */
    DATASET_SYNTHETIC_POLY,   /* d2l 4.4: features x^i / i!, i < max_degree */
    DATASET_REGISTRY,         /* a name in the data registry (fashion_mnist, kaggle_house) */
    DATASET_URL,              /* a CSV declared in the spec with url + hash */
};

struct data_spec {
    enum dataset_kind kind;
    char dataset[SPEC_NAME_LEN]; /* the name as written */
    int batch_size;
    bool shuffle; /* default true */

    /* synthetic_linear: w (list, or `inputs` copies of w_fill), b, n_train,
     * n_test (default 0), noise. synthetic_poly: coefficients (w), max_degree,
     * features (how many leading features the model sees), n_train, n_test,
     * noise. */
    double w[SPEC_MAX_VALUES];
    int n_w;
    double b;
    int n_train, n_test;
    double noise;
    int max_degree, features;

    /* url datasets */
    char url[1024];
    char sha1[41];
    char sha256[65];
    char test_url[1024];
    char test_sha1[41];
    char test_sha256[65];
    long long size, test_size; /* bytes; 0: not given (the download cap applies) */

    struct preprocess_spec preprocess;
    struct mark at;
};

enum kfold_metric { KFOLD_LOG_RMSE, KFOLD_ACCURACY, KFOLD_LOSS };

struct kfold_spec {
    int k;        /* default 5 */
    bool shuffle; /* default false: contiguous folds as d2l */
    enum kfold_metric metric;
    bool metric_set; /* false: log_rmse for tabular regression (d2l 4.10), accuracy for
                        classification, loss otherwise (kfold_metric_of) */
    struct mark metric_at;
};

/* train.lr_schedule: the learning rate of each epoch (core/schedule.c). */
enum lr_schedule_kind { LR_CONSTANT, LR_STEP, LR_COSINE };

struct lr_schedule_spec {
    enum lr_schedule_kind kind;
    int every;     /* step: StepLR's step_size, in epochs */
    double gamma;  /* step: the factor every `every` epochs */
    int warmup;    /* cosine: epochs of linear warmup, 0..epochs-1 */
    double min_lr; /* cosine: CosineAnnealingLR's eta_min, default 0 */
    struct mark at;
};

/* train.early_stop: stop when the metric has not improved for `patience`
 * epochs and go back to the parameters of its best epoch. */
enum early_stop_metric { STOP_TEST_LOSS, STOP_TEST_ACC, STOP_TRAIN_LOSS, STOP_METRIC_COUNT };

struct early_stop_spec {
    bool on;
    enum early_stop_metric metric;
    int patience;
    struct mark at;
};

struct train_spec {
    struct lr_schedule_spec lr_schedule;
    struct early_stop_spec early_stop;
    double clip_grad_norm; /* 0: no clipping */
    int checkpoint_every;  /* epochs between the resume states run --out keeps; 0: none */
};

/* `report:`: what `run` prints after training, each a bit (1 << item). */
enum report_item {
    REPORT_RECOVERY, /* learned w and b against synthetic_linear's truth (d2l 3.2) */
    REPORT_WEIGHTS,  /* "weight: ..." of the first linear layer (d2l 4.4) */
    REPORT_L2_NORM,  /* "L2 norm of w: ..." over the weights (d2l 3.7) */
    REPORT_L1_NORM,
    REPORT_ITEM_COUNT
};

struct spec {
    char path[1024];
    char name[SPEC_NAME_LEN];
    uint64_t seed;  /* default 42 */
    char device[32]; /* default "auto" */
    bool tf32;       /* allow TF32 GEMMs on the GPU, default false */
    bool cpu_bf16;   /* allow bf16 GEMMs on the CPU, default false */

    struct data_spec data;
    /* What the file says: `blocks:` and `model:` as items... */
    struct item_spec items[SPEC_MAX_ITEMS];
    int n_items;
    struct block_spec blocks[SPEC_MAX_BLOCKS];
    int n_blocks;
    struct item_list model;
    struct plugin_spec plugins[SPEC_MAX_PLUGINS];
    int n_plugins;
    /* ...and the model they expand to: the layers in order, each with its
     * PyTorch module name. Everything after the loader reads these only. */
    struct layer_spec layers[SPEC_MAX_LAYERS];
    int n_layers;
    struct init_spec weight_init; /* default normal(0, 0.01) */
    struct init_spec bias_init;   /* default zeros */
    struct loss_spec loss;
    struct optim_spec optim;
    struct penalty_spec penalty;
    int epochs;
    struct train_spec train; /* the rest of `train:` */
    struct kfold_spec kfold;
    unsigned report;  /* bits of enum report_item */
    bool report_set;  /* `report:` given; else spec_report_items picks by data and penalty */
};

/* Loads and validates a spec, then applies `--set path=value` overrides
 * (each checked as if written in the file). On error fills *e with
 * "file:line:col: key.path: what was expected (did you mean 'x'?)" and
 * returns EXIT_USAGE. */
int spec_load(struct spec *s, const char *path, const char *const *sets, int n_sets, struct err *e);

/* The same from a string (tests); `name` stands for the file in messages. */
int spec_load_string(struct spec *s, const char *name, const char *yaml, size_t len,
                     const char *const *sets, int n_sets, struct err *e);

/* Checks the spec against the data it will train on: cross-entropy needs
 * class labels, the last linear layer must be as wide as the class count
 * (or the target width for regression). Errors name the loss or layer's
 * file:line:col. */
int spec_check_fit(const struct spec *s, int n_features, int n_classes, int target_width, struct err *e);

/* An error found when the spec meets its data (exit 2): "file:line:col:
 * path: what" at the key's mark, "--set path=value: path: what" for a
 * value set with --set. */
int spec_fit_error(const struct spec *s, struct mark at, const char *path, const char *what, struct err *e);

/* Writes the effective spec (defaults filled in) as YAML that spec_load
 * reads back to the same structs. */
int spec_write(const struct spec *s, FILE *f);

const char *layer_kind_name(enum layer_kind k);

/* PyTorch's name of layer i's module: its `module`, or its index where the
 * spec was made by hand (tests). */
struct module_name {
    char text[SPEC_MODULE_LEN];
};
struct module_name spec_module_name(const struct spec *s, int layer);
const char *loss_kind_name(enum loss_kind k);
const char *optim_kind_name(enum optim_kind k);
const char *early_stop_metric_name(enum early_stop_metric k);
const char *report_item_name(enum report_item k);

/* The report items run prints: `report:`, or by default the recovery for
 * synthetic_linear, the weights for synthetic_poly and the norm of the
 * spec's penalty (l2 or l1, at any lambda). */
unsigned spec_report_items(const struct spec *s);

#endif
