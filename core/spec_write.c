/* The effective spec (every default spelt out) as YAML that spec_load reads
 * back to the same structs: strings double-quoted and escaped, reals in the
 * shortest of %.15g / %.17g that reads back as the same double. */
#include "spec.h"
#include "spec_value.h"

#include <stdlib.h>
#include <string.h>

/* A real as text: 0.1 rather than 0.10000000000000001 where that is exact. */
struct real {
    char text[32];
};

static struct real real(double v)
{
    struct real r;
    snprintf(r.text, sizeof r.text, "%.15g", v);
    if (strtod(r.text, NULL) != v)
        snprintf(r.text, sizeof r.text, "%.17g", v);
    return r;
}

/* YAML double-quoted, with every character escaped that a YAML reader
 * would not give back as itself: C0 and C1 controls (U+0085 NEL is a line
 * break to YAML), DEL, U+2028 and U+2029 (line and paragraph separators)
 * and U+FEFF (a byte order mark). The text is UTF-8 (libyaml checked it). */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* U+0080..U+009F */
            fprintf(f, "\\x%02x", *++p);
        else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            fprintf(f, "\\u%04x", 0x2000 + (p[2] - 0x80));
            p += 2;
        } else if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
            fprintf(f, "\\ufeff");
            p += 2;
        } else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_key_string(FILE *f, const char *indent, const char *key, const char *value)
{
    fprintf(f, "%s%s: ", indent, key);
    put_string(f, value);
    fputc('\n', f);
}

static const char *yes_no(bool b)
{
    return b ? "true" : "false";
}

static void put_numbers(FILE *f, const char *key, const double *v, int n)
{
    fprintf(f, "  %s: [", key);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", real(v[i]).text);
    fprintf(f, "]\n");
}

static void put_data(FILE *f, const struct data_spec *d)
{
    fprintf(f, "data:\n");
    put_key_string(f, "  ", "dataset", d->dataset);
    fprintf(f, "  batch_size: %d\n  shuffle: %s\n", d->batch_size, yes_no(d->shuffle));
    if (d->kind == DATASET_SYNTHETIC_LINEAR || d->kind == DATASET_SYNTHETIC_POLY) {
        put_numbers(f, d->kind == DATASET_SYNTHETIC_LINEAR ? "w" : "coefficients", d->w, d->n_w);
        if (d->kind == DATASET_SYNTHETIC_LINEAR)
            fprintf(f, "  b: %s\n", real(d->b).text);
        else
            fprintf(f, "  max_degree: %d\n  features: %d\n", d->max_degree, d->features);
        fprintf(f, "  n_train: %d\n  n_test: %d\n  noise: %s\n", d->n_train, d->n_test, real(d->noise).text);
        return;
    }
    const char *const names[] = {"url", "sha1", "sha256", "test_url", "test_sha1", "test_sha256"};
    const char *const values[] = {d->url, d->sha1, d->sha256, d->test_url, d->test_sha1, d->test_sha256};
    for (int i = 0; i < 6; i++)
        if (values[i][0])
            put_key_string(f, "  ", names[i], values[i]);
    if (d->size)
        fprintf(f, "  size: %lld\n", d->size);
    if (d->test_size)
        fprintf(f, "  test_size: %lld\n", d->test_size);
    const struct preprocess_spec *p = &d->preprocess;
    if (p->label_column[0]) { /* label is required, so "" means no preprocess section */
        fprintf(f, "  preprocess:\n");
        put_key_string(f, "    ", "id_column", p->id_column);
        put_key_string(f, "    ", "label", p->label_column);
        fprintf(f, "    standardize: %s\n    stats: %s\n    dummy_na: %s\n", yes_no(p->standardize),
                p->stats_from_train_only ? "train" : "all", yes_no(p->dummy_na));
        fprintf(f, "    missing_strings: %s\n", p->none_is_value ? "pandas1" : "pandas2");
    }
}

/* An initializer as `name` or `{name: {param: value, ...}}`. */
static void put_init_value(FILE *f, const struct init_spec *init)
{
    for (int i = 0; i < spec_n_inits; i++) {
        const struct init_name *name = &spec_inits[i];
        if (name->kind != (int)init->kind)
            continue;
        if (!name->params[0]) {
            fputs(name->name, f);
            return;
        }
        double value[2] = {init->a, init->b};
        fprintf(f, "{%s: {", name->name);
        for (int p = 0; name->params[p]; p++)
            fprintf(f, "%s%s: %s", p ? ", " : "", name->params[p], real(value[p]).text);
        fprintf(f, "}}");
        return;
    }
}

static void put_linear(FILE *f, const struct layer_spec *l)
{
    if (l->share[0]) {
        fprintf(f, "linear: {share: %s}", l->share);
        return;
    }
    fprintf(f, "linear: {out: %d, bias: %s", l->out, yes_no(l->bias));
    if (l->name[0])
        fprintf(f, ", name: %s", l->name);
    if (l->frozen)
        fprintf(f, ", trainable: false");
    if (l->own_weight_init || l->own_bias_init) {
        fprintf(f, ", init: {");
        if (l->own_weight_init) {
            fprintf(f, "weight: ");
            put_init_value(f, &l->weight_init);
        }
        if (l->own_bias_init) {
            fprintf(f, "%sbias: ", l->own_weight_init ? ", " : "");
            put_init_value(f, &l->bias_init);
        }
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

static void put_plugin(FILE *f, const struct plugin_spec *p)
{
    fprintf(f, "plugin: {path: ");
    put_string(f, p->path);
    fprintf(f, ", name: %s, params: {", p->name);
    for (int i = 0; i < p->n_settings; i++)
        fprintf(f, "%s%s: %s", i ? ", " : "", p->keys[i], real(p->values[i]).text);
    fprintf(f, "}}");
}

static void put_item(FILE *f, const struct spec *s, const struct item_spec *it, const char *indent)
{
    fprintf(f, "%s- ", indent);
    switch (it->kind) {
    case ITEM_BLOCK:
        fputs(s->blocks[it->block].name, f);
        break;
    case ITEM_REPEAT:
        fprintf(f, "repeat: {times: %d, block: %s", it->times, s->blocks[it->block].name);
        if (it->prefix[0]) {
            fprintf(f, ", name: ");
            put_string(f, it->prefix);
        }
        fputc('}', f);
        break;
    case ITEM_LAYER:
        if (it->layer.kind == LAYER_LINEAR)
            put_linear(f, &it->layer);
        else if (it->layer.kind == LAYER_PLUGIN)
            put_plugin(f, &s->plugins[it->layer.plugin]);
        else if (it->layer.kind == LAYER_DROPOUT)
            fprintf(f, "dropout: {p: %s}", real(it->layer.p).text);
        else
            fputs(layer_kind_name(it->layer.kind), f);
        break;
    }
    fputc('\n', f);
}

static void put_items(FILE *f, const struct spec *s, struct item_list list, const char *indent)
{
    for (int i = 0; i < list.n; i++)
        put_item(f, s, &s->items[list.first + i], indent);
}

static void put_init(FILE *f, const char *key, const struct init_spec *init)
{
    fprintf(f, "  %s: ", key);
    put_init_value(f, init);
    fputc('\n', f);
}

static void put_optimizer(FILE *f, const struct optim_spec *o)
{
    fprintf(f, "optimizer:\n");
    switch (o->kind) {
    case OPT_SGD:
        fprintf(f, "  sgd: {lr: %s, momentum: %s, ", real(o->lr).text, real(o->momentum).text);
        break;
    case OPT_ADAM:
        fprintf(f, "  adam: {lr: %s, betas: [%s, %s], eps: %s, ", real(o->lr).text, real(o->beta1).text,
                real(o->beta2).text, real(o->eps).text);
        break;
    case OPT_KIND_COUNT:
        break;
    }
    fprintf(f, "weight_decay: %s, decay_bias: %s}\n", real(o->weight_decay).text, yes_no(o->decay_bias));
}

static void put_train(FILE *f, const struct spec *s)
{
    const struct train_spec *t = &s->train;
    const struct lr_schedule_spec *l = &t->lr_schedule;
    fprintf(f, "train:\n  epochs: %d\n", s->epochs);
    switch (l->kind) {
    case LR_CONSTANT:
        break;
    case LR_STEP:
        fprintf(f, "  lr_schedule: {step: {every: %d, gamma: %s}}\n", l->every, real(l->gamma).text);
        break;
    case LR_COSINE:
        fprintf(f, "  lr_schedule: {cosine: {warmup: %d, min_lr: %s}}\n", l->warmup, real(l->min_lr).text);
        break;
    }
    if (t->early_stop.on)
        fprintf(f, "  early_stop: {metric: %s, patience: %d}\n", early_stop_metric_name(t->early_stop.metric),
                t->early_stop.patience);
    if (t->clip_grad_norm > 0)
        fprintf(f, "  clip_grad_norm: %s\n", real(t->clip_grad_norm).text);
    if (t->checkpoint_every)
        fprintf(f, "  checkpoint_every: %d\n", t->checkpoint_every);
}

int spec_write(const struct spec *s, FILE *f)
{
    static const char *const metrics[] = {"log_rmse", "accuracy", "loss"};
    put_key_string(f, "", "name", s->name);
    fprintf(f, "seed: %llu\n", (unsigned long long)s->seed);
    put_key_string(f, "", "device", s->device);
    fprintf(f, "tf32: %s\n", yes_no(s->tf32));
    fprintf(f, "cpu_bf16: %s\n", yes_no(s->cpu_bf16));
    put_data(f, &s->data);
    if (s->n_blocks)
        fprintf(f, "blocks:\n");
    for (int b = 0; b < s->n_blocks; b++) {
        fprintf(f, "  %s:\n", s->blocks[b].name);
        put_items(f, s, s->blocks[b].items, "    ");
    }
    fprintf(f, "model:\n");
    put_items(f, s, s->model, "  ");
    fprintf(f, "init:\n");
    put_init(f, "weight", &s->weight_init);
    put_init(f, "bias", &s->bias_init);
    if (s->loss.kind == LOSS_HUBER)
        fprintf(f, "loss: {huber: {delta: %s}}\n", real(s->loss.delta).text);
    else
        fprintf(f, "loss: %s\n", loss_kind_name(s->loss.kind));
    put_optimizer(f, &s->optim);
    if (s->penalty.kind != PENALTY_NONE)
        fprintf(f, "penalty: {%s: %s}\n", s->penalty.kind == PENALTY_L1 ? "l1" : "l2", real(s->penalty.lambda).text);
    put_train(f, s);
    fprintf(f, "kfold: {k: %d, shuffle: %s", s->kfold.k, yes_no(s->kfold.shuffle));
    if (s->kfold.metric_set)
        fprintf(f, ", metric: %s", metrics[s->kfold.metric]);
    fprintf(f, "}\n");
    if (s->report_set) {
        fprintf(f, "report: [");
        for (int i = 0, n = 0; i < REPORT_ITEM_COUNT; i++)
            if (s->report & (1u << i))
                fprintf(f, "%s%s", n++ ? ", " : "", report_item_name((enum report_item)i));
        fprintf(f, "]\n");
    }
    return ferror(f) || fflush(f) != 0 ? -1 : 0;
}
