/* Loading a spec: read the file, parse it into a tree, apply --set
 * overrides, then check every key into struct spec (defaults first). The
 * data section is in spec_data.c, the checked conversions in spec_value.c. */
#include "plugin.h"
#include "spec.h"
#include "open_regular.h"
#include "spec_value.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const struct init_name spec_inits[] = {
    {"zeros", INIT_ZEROS, {NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, false},
    {"normal", INIT_NORMAL, {"mean", "std", NULL}, {0, 0.01}, {NUM_ANY, NUM_NONNEG}, false},
    {"uniform", INIT_UNIFORM, {"low", "high", NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, true},
    {"constant", INIT_CONSTANT, {"value", NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, true},
    {"xavier_uniform", INIT_XAVIER_UNIFORM, {"gain", NULL}, {1, 0}, {NUM_POSITIVE, NUM_ANY}, false},
    {"xavier_normal", INIT_XAVIER_NORMAL, {"gain", NULL}, {1, 0}, {NUM_POSITIVE, NUM_ANY}, false},
    {"kaiming_uniform", INIT_KAIMING_UNIFORM, {NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, false},
    {"kaiming_normal", INIT_KAIMING_NORMAL, {NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, false},
    {"torch_default", INIT_TORCH_DEFAULT, {NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, false},
    {"my_init", INIT_MY_INIT, {NULL}, {0, 0}, {NUM_ANY, NUM_ANY}, false},
};
const int spec_n_inits = sizeof spec_inits / sizeof spec_inits[0];
_Static_assert(sizeof spec_inits / sizeof spec_inits[0] == INIT_KIND_COUNT, "a name for every initializer");

/* Indexed by enum loss_kind / enum optim_kind. */
static const char *const loss_names[] = {"mse", "squared", "huber", "l1", "cross_entropy", "nll", NULL};
_Static_assert(sizeof loss_names / sizeof loss_names[0] == LOSS_KIND_COUNT + 1, "a name for every loss");
static const char *const optim_names[] = {"sgd", "adam", NULL};
_Static_assert(sizeof optim_names / sizeof optim_names[0] == OPT_KIND_COUNT + 1, "a name for every optimizer");

static const char *const report_names[] = {"recovery", "weights", "l2_norm", "l1_norm", NULL};
_Static_assert(sizeof report_names / sizeof report_names[0] == REPORT_ITEM_COUNT + 1, "a name for every report item");

const char *report_item_name(enum report_item k)
{
    return (unsigned)k < REPORT_ITEM_COUNT ? report_names[k] : "?";
}

unsigned spec_report_items(const struct spec *s)
{
    if (s->report_set)
        return s->report;
    unsigned items = 0;
    if (s->data.kind == DATASET_SYNTHETIC_LINEAR)
        items |= 1u << REPORT_RECOVERY;
    if (s->data.kind == DATASET_SYNTHETIC_POLY)
        items |= 1u << REPORT_WEIGHTS;
    if (s->penalty.kind == PENALTY_L2)
        items |= 1u << REPORT_L2_NORM;
    if (s->penalty.kind == PENALTY_L1)
        items |= 1u << REPORT_L1_NORM;
    return items;
}

const char *loss_kind_name(enum loss_kind k)
{
    return (unsigned)k < LOSS_KIND_COUNT ? loss_names[k] : "?";
}

const char *optim_kind_name(enum optim_kind k)
{
    return (unsigned)k < OPT_KIND_COUNT ? optim_names[k] : "?";
}

static void set_defaults(struct spec *s, const char *file)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", file);
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    size_t stem = strrchr(base, '.') ? (size_t)(strrchr(base, '.') - base) : strlen(base);
    snprintf(s->name, sizeof s->name, "%.*s", (int)stem, stem ? base : "spec");
    s->seed = 42;
    strcpy(s->device, "auto");
    s->data.batch_size = 256;
    s->data.shuffle = true;
    s->data.noise = 0.01;
    s->data.max_degree = 20;
    s->data.preprocess.standardize = true;
    s->data.preprocess.dummy_na = true;
    s->weight_init = (struct init_spec){INIT_NORMAL, 0, 0.01};
    s->bias_init = (struct init_spec){INIT_ZEROS, 0, 0};
    s->loss.delta = 1;
    s->optim = (struct optim_spec){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .decay_bias = true};
    s->kfold.k = 5;
}

int spec_read_init(struct init_spec *out, const struct vctx *c, const struct ynode *node, const char *path)
{
    const char *names[sizeof spec_inits / sizeof spec_inits[0] + 1] = {NULL};
    for (int i = 0; i < spec_n_inits; i++)
        names[i] = spec_inits[i].name;
    int i;
    if (node->type == Y_SCALAR) {
        if (to_choice(c, node, path, names, &i) != 0)
            return c->e->code;
        if (spec_inits[i].needs_params)
            return verr(c, node->at, path, "%s needs its settings, e.g. %s", names[i],
                        spec_inits[i].kind == INIT_UNIFORM ? "uniform: {low: -0.1, high: 0.1}"
                                                           : "constant: {value: 1}");
        *out = (struct init_spec){(enum init_kind)spec_inits[i].kind, spec_inits[i].defaults[0],
                                  spec_inits[i].defaults[1]};
        return 0;
    }
    if (node->type != Y_MAP)
        return verr_expected(c, node, path, "an initializer name or a one-key mapping such as normal: {std: 0.01}");
    if (one_key(&i, c, node, path, names, "initializer") != 0)
        return c->e->code;
    const struct init_name *init = &spec_inits[i];
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, init->name);
    const struct ynode *args = node->items[0];
    if (need_map(c, args, sub) != 0 || check_keys(c, args, sub, init->params) != 0)
        return c->e->code;
    double value[2] = {init->defaults[0], init->defaults[1]};
    for (int p = 0; init->params[p]; p++)
        if ((init->needs_params && need_key(c, args, sub, init->params[p]) != 0) ||
            opt_number(c, args, sub, init->params[p], init->ranges[p], &value[p]) != 0)
            return c->e->code;
    if (init->kind == INIT_UNIFORM && !(value[0] < value[1]))
        return verr(c, args->at, sub, "expected low < high, got low %g and high %g", value[0], value[1]);
    *out = (struct init_spec){(enum init_kind)init->kind, value[0], value[1]};
    return 0;
}

static int read_loss(struct loss_spec *loss, const struct vctx *c, const struct ynode *node)
{
    static const char *const with_settings[] = {"huber", NULL};
    loss->at = spec_mark(node->at);
    int i;
    if (node->type != Y_MAP) {
        if (to_choice(c, node, "loss", loss_names, &i) != 0)
            return c->e->code;
        loss->kind = (enum loss_kind)i;
        return 0;
    }
    if (one_key(&i, c, node, "loss", with_settings, "loss") != 0)
        return c->e->code;
    static const char *const keys[] = {"delta", NULL};
    const struct ynode *args = node->items[0];
    loss->kind = LOSS_HUBER;
    if (need_map(c, args, "loss.huber") != 0 || check_keys(c, args, "loss.huber", keys) != 0)
        return c->e->code;
    return opt_number(c, args, "loss.huber", "delta", NUM_POSITIVE, &loss->delta);
}

/* Each optimizer's keys, indexed by enum optim_kind. */
static const char *const optim_keys[][6] = {
    {"lr", "momentum", "weight_decay", "decay_bias", NULL},
    {"lr", "betas", "eps", "weight_decay", "decay_bias", NULL},
};
_Static_assert(sizeof optim_keys / sizeof optim_keys[0] == OPT_KIND_COUNT, "keys for every optimizer");

static int read_optimizer(struct optim_spec *o, const struct vctx *c, const struct ynode *node)
{
    int kind;
    if (need_map(c, node, "optimizer") != 0 || check_keys(c, node, "optimizer", optim_names) != 0 ||
        one_key(&kind, c, node, "optimizer", optim_names, "optimizer (sgd or adam)") != 0)
        return c->e->code;
    o->kind = (enum optim_kind)kind;
    char path[SPEC_PATH_LEN];
    path_join(path, "optimizer", optim_names[kind]);
    const struct ynode *args = node->items[0];
    if (need_map(c, args, path) != 0 || check_keys(c, args, path, optim_keys[kind]) != 0 ||
        need_key(c, args, path, "lr") != 0 || opt_number(c, args, path, "lr", NUM_POSITIVE, &o->lr) != 0 ||
        opt_number(c, args, path, "momentum", NUM_UNIT, &o->momentum) != 0 ||
        opt_number(c, args, path, "weight_decay", NUM_NONNEG, &o->weight_decay) != 0 ||
        opt_number(c, args, path, "eps", NUM_POSITIVE, &o->eps) != 0 ||
        opt_bool(c, args, path, "decay_bias", &o->decay_bias) != 0)
        return c->e->code;
    const struct ynode *betas = map_find(args, "betas");
    if (!betas)
        return 0;
    if (betas->type != Y_SEQ || betas->n != 2)
        return verr_expected(c, betas, "optimizer.adam.betas", "a list of two numbers [beta1, beta2]");
    double b[2];
    int n;
    if (to_numbers(c, betas, "optimizer.adam.betas", NUM_UNIT, b, 2, &n) != 0)
        return c->e->code;
    o->beta1 = b[0];
    o->beta2 = b[1];
    return 0;
}

static int read_penalty(struct penalty_spec *p, const struct vctx *c, const struct ynode *node)
{
    static const char *const names[] = {"l1", "l2", NULL};
    if (need_map(c, node, "penalty") != 0 || check_keys(c, node, "penalty", names) != 0 ||
        need_one_key(c, node, "penalty", "penalty (l1 or l2)") != 0)
        return c->e->code;
    p->kind = strcmp(node->keys[0], "l1") == 0 ? PENALTY_L1 : PENALTY_L2;
    char path[SPEC_PATH_LEN];
    path_join(path, "penalty", node->keys[0]);
    return to_number(c, node->items[0], path, NUM_NONNEG, &p->lambda);
}

static int read_kfold(struct kfold_spec *k, const struct vctx *c, const struct ynode *node)
{
    static const char *const keys[] = {"k", "shuffle", "metric", NULL};
    static const char *const metrics[] = {"log_rmse", "accuracy", "loss", NULL};
    if (need_map(c, node, "kfold") != 0 || check_keys(c, node, "kfold", keys) != 0 ||
        opt_int(c, node, "kfold", "k", 2, 1000, &k->k) != 0 || opt_bool(c, node, "kfold", "shuffle", &k->shuffle) != 0)
        return c->e->code;
    const struct ynode *metric = map_find(node, "metric");
    int i;
    if (!metric)
        return 0;
    if (to_choice(c, metric, "kfold.metric", metrics, &i) != 0)
        return c->e->code;
    k->metric = (enum kfold_metric)i;
    k->metric_set = true;
    k->metric_at = spec_mark(metric->at);
    return 0;
}

/* `report: [weights, l2_norm]` */
static int read_report(struct spec *s, const struct vctx *c, const struct ynode *node)
{
    if (node->type != Y_SEQ)
        return verr_expected(c, node, "report", "a list such as [weights, l2_norm]");
    s->report_set = true;
    s->report = 0;
    for (int i = 0; i < node->n; i++) {
        char path[SPEC_PATH_LEN];
        int item;
        path_index(path, "report", i);
        if (to_choice(c, node->items[i], path, report_names, &item) != 0)
            return c->e->code;
        s->report |= 1u << item;
    }
    return 0;
}

static int read_device(struct spec *s, const struct vctx *c, const struct ynode *node)
{
    if (to_string(c, node, "device", s->device, sizeof s->device) != 0)
        return c->e->code;
    const char *d = s->device;
    size_t digits = strncmp(d, "cuda:", 5) == 0 ? strspn(d + 5, "0123456789") : 0;
    bool ok = strcmp(d, "auto") == 0 || strcmp(d, "cpu") == 0 || strcmp(d, "cuda") == 0 ||
              (digits >= 1 && digits <= 3 && d[5 + digits] == '\0');
    return ok ? 0 : verr_expected(c, node, "device", "auto, cpu, cuda or cuda:N");
}

static int read_spec(struct spec *s, const struct vctx *c, const struct ynode *root)
{
    static const char *const keys[] = {"name", "seed", "device", "tf32",    "cpu_bf16", "data",  "blocks", "model",
                                       "init", "loss", "optimizer", "penalty", "train", "kfold", "report", NULL};
    static const char *const required[] = {"data", "model", "loss", "optimizer", "train", NULL};
    static const char *const init_keys[] = {"weight", "bias", NULL};
    if (need_map(c, root, "") != 0 || check_keys(c, root, "", keys) != 0)
        return c->e->code;
    for (const char *const *k = required; *k; k++)
        if (need_key(c, root, "", *k) != 0)
            return c->e->code;
    const struct ynode *node;
    long long seed;
    if (opt_string(c, root, "", "name", s->name, sizeof s->name) != 0)
        return c->e->code;
    if ((node = map_find(root, "name")) && !s->name[0])
        return verr_expected(c, node, "name", "a non-empty name");
    if ((node = map_find(root, "seed"))) {
        if (to_int(c, node, "seed", 0, INT64_MAX, &seed) != 0)
            return c->e->code;
        s->seed = (uint64_t)seed;
    }
    if (((node = map_find(root, "device")) && read_device(s, c, node) != 0) ||
        opt_bool(c, root, "", "tf32", &s->tf32) != 0 || opt_bool(c, root, "", "cpu_bf16", &s->cpu_bf16) != 0 ||
        spec_read_data(&s->data, c, map_find(root, "data")) != 0 ||
        spec_read_model(s, c, map_find(root, "blocks"), map_find(root, "model")) != 0)
        return c->e->code;
    if ((node = map_find(root, "init"))) {
        const struct ynode *w, *b;
        if (need_map(c, node, "init") != 0 || check_keys(c, node, "init", init_keys) != 0 ||
            ((w = map_find(node, "weight")) && spec_read_init(&s->weight_init, c, w, "init.weight") != 0) ||
            ((b = map_find(node, "bias")) && spec_read_init(&s->bias_init, c, b, "init.bias") != 0))
            return c->e->code;
    }
    if (read_loss(&s->loss, c, map_find(root, "loss")) != 0 ||
        read_optimizer(&s->optim, c, map_find(root, "optimizer")) != 0 ||
        ((node = map_find(root, "penalty")) && read_penalty(&s->penalty, c, node) != 0) ||
        spec_read_train(s, c, map_find(root, "train")) != 0 ||
        ((node = map_find(root, "kfold")) && read_kfold(&s->kfold, c, node) != 0) ||
        ((node = map_find(root, "report")) && read_report(s, c, node) != 0))
        return c->e->code;
    return 0;
}

int spec_load_string(struct spec *s, const char *name, const char *yaml, size_t len,
                     const char *const *sets, int n_sets, struct err *e)
{
    set_defaults(s, name);
    struct vctx c = {name, e};
    struct ynode *root;
    if (ytree_parse(&root, yaml, len, name, NULL, e) != 0)
        return e->code;
    if (!root)
        return verr(&c, (struct ypos){1, 1, NULL}, NULL,
                    "the spec is empty; expected a mapping with data, model, loss, optimizer and train");
    int rc = need_map(&c, root, "");
    if (rc == 0)
        rc = spec_apply_sets(root, name, sets, n_sets, e);
    if (rc == 0)
        rc = read_spec(s, &c, root);
    ytree_free(root);
    return rc;
}

int spec_load(struct spec *s, const char *path, const char *const *sets, int n_sets, struct err *e)
{
    set_defaults(s, path);
    FILE *f = fopen_regular(path, "a YAML spec", EXIT_USAGE, e);
    if (!f)
        return e->code;
    char *text = malloc(YTREE_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return err_set(e, EXIT_RUNTIME, "%s: out of memory", path);
    }
    size_t len = fread(text, 1, YTREE_MAX_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    int rc;
    if (failed)
        rc = err_set(e, EXIT_USAGE, "%s: cannot read the spec", path);
    else if (len > YTREE_MAX_BYTES)
        rc = err_set(e, EXIT_USAGE, "%s: larger than 1 MiB; a spec is a small text file", path);
    else
        rc = spec_load_string(s, path, text, len, sets, n_sets, e);
    free(text);
    return rc;
}

int spec_fit_error(const struct spec *s, struct mark at, const char *path, const char *what, struct err *e)
{
    if (at.set)
        return err_set(e, EXIT_USAGE, "--set %s: %s: %s", at.set, path, what);
    if (at.line > 0)
        return err_set(e, EXIT_USAGE, "%s:%d:%d: %s: %s", s->path, at.line, at.col, path, what);
    return err_set(e, EXIT_USAGE, "%s: %s: %s", s->path, path, what);
}

int spec_check_fit(const struct spec *s, int n_features, int n_classes, int target_width, struct err *e)
{
    char what[512];
    const char *loss = loss_kind_name(s->loss.kind);
    bool classify = s->loss.kind == LOSS_CROSS_ENTROPY || s->loss.kind == LOSS_NLL;
    if (classify && n_classes == 0) {
        snprintf(what, sizeof what,
                 "%s needs class labels, but the data has real-valued targets (use mse, squared, huber or l1)", loss);
        return spec_fit_error(s, s->loss.at, "loss", what, e);
    }
    if (!classify && n_classes > 0) {
        snprintf(what, sizeof what,
                 "%s needs real-valued targets, but the data has %d classes (use cross_entropy, or nll after softmax)",
                 loss, n_classes);
        return spec_fit_error(s, s->loss.at, "loss", what, e);
    }
    int last = -1, in_width[SPEC_MAX_LAYERS], width = n_features;
    bool plugin_last = false; /* a plugin layer after the last linear one sets the output width */
    for (int i = 0; i < s->n_layers; i++) {
        const struct layer_spec *l = &s->layers[i];
        in_width[i] = width;
        if (l->kind == LAYER_PLUGIN) {
            char path[SPEC_PATH_LEN];
            snprintf(path, sizeof path, "model[%s].plugin", spec_module_name(s, i).text);
            if ((width = plugin_out_width(&s->plugins[l->plugin], width, what, sizeof what)) < 0)
                return spec_fit_error(s, l->at, path, what, e);
            plugin_last = true;
        }
        if (l->kind != LAYER_LINEAR)
            continue;
        last = i;
        plugin_last = false;
        width = l->out;
        if (l->share[0] && in_width[l->owner] != in_width[i]) {
            char path[SPEC_PATH_LEN];
            snprintf(path, sizeof path, "model[%s].linear.share", spec_module_name(s, i).text);
            snprintf(what, sizeof what, "'%s' takes %d inputs where it is defined, but %d here; a shared layer "
                     "needs the same shape", l->share, in_width[l->owner], in_width[i]);
            return spec_fit_error(s, l->at, path, what, e);
        }
    }
    if (last < 0)
        return spec_fit_error(s, s->n_layers ? s->layers[0].at : (struct mark){0}, "model",
                         "expected at least one linear layer", e);
    int want = classify ? n_classes : target_width;
    if (plugin_last && width != want) {
        snprintf(what, sizeof what, "the model's last plugin layer gives %d outputs; it must give %d (%s)", width,
                 want, classify ? "the number of classes" : "the target width");
        return spec_fit_error(s, s->layers[s->n_layers - 1].at, "model", what, e);
    }
    if (!plugin_last && s->layers[last].out != want) {
        char path[SPEC_PATH_LEN];
        snprintf(path, sizeof path, "model[%s].linear.out", spec_module_name(s, last).text);
        snprintf(what, sizeof what, "the last linear layer must have out %d (%s), got %d", want,
                 classify ? "the number of classes" : "the target width", s->layers[last].out);
        return spec_fit_error(s, s->layers[last].at, path, what, e);
    }
    return 0;
}

struct module_name spec_module_name(const struct spec *s, int layer)
{
    struct module_name n;
    if (s->layers[layer].module[0])
        snprintf(n.text, sizeof n.text, "%s", s->layers[layer].module);
    else
        snprintf(n.text, sizeof n.text, "%d", layer);
    return n;
}
