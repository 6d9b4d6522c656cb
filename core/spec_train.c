/* The `train:` section: epochs, the learning-rate schedule, early stopping
 * and gradient clipping. */
#include <string.h>

#include "spec_value.h"

/* Indexed by enum early_stop_metric. */
static const char *const stop_metrics[] = {"test_loss", "test_acc", "train_loss", NULL};
_Static_assert(sizeof stop_metrics / sizeof stop_metrics[0] == STOP_METRIC_COUNT + 1, "a name for every metric");

const char *early_stop_metric_name(enum early_stop_metric k)
{
    return (unsigned)k < STOP_METRIC_COUNT ? stop_metrics[k] : "?";
}

/* `{step: {every: 10, gamma: 0.5}}` or `{cosine: {warmup: 2, min_lr: 0}}`. */
static int read_schedule(struct lr_schedule_spec *l, int epochs, const struct vctx *c, const struct ynode *node)
{
    static const char *const kinds[] = {"step", "cosine", NULL};
    static const char *const step_keys[] = {"every", "gamma", NULL};
    static const char *const cosine_keys[] = {"warmup", "min_lr", NULL};
    const char *path = "train.lr_schedule";
    int kind;
    l->at = spec_mark(node->at);
    if (need_map(c, node, path) != 0 ||
        one_key(&kind, c, node, path, kinds, "schedule (step: {every, gamma} or cosine: {warmup})") != 0)
        return c->e->code;
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, kinds[kind]);
    const struct ynode *args = node->items[0];
    if (kind == 0) {
        l->kind = LR_STEP;
        l->gamma = 0.1; /* StepLR's default */
        if (need_map(c, args, sub) != 0 || check_keys(c, args, sub, step_keys) != 0 ||
            need_key(c, args, sub, "every") != 0 || opt_int(c, args, sub, "every", 1, 1000000, &l->every) != 0 ||
            opt_number(c, args, sub, "gamma", NUM_POSITIVE, &l->gamma) != 0)
            return c->e->code;
        return 0;
    }
    l->kind = LR_COSINE;
    if (need_map(c, args, sub) != 0 || check_keys(c, args, sub, cosine_keys) != 0 ||
        opt_int(c, args, sub, "warmup", 0, 1000000, &l->warmup) != 0 ||
        opt_number(c, args, sub, "min_lr", NUM_NONNEG, &l->min_lr) != 0)
        return c->e->code;
    if (l->warmup >= epochs)
        return verr(c, args->at, sub, "warmup (%d epochs) must be shorter than train.epochs (%d)", l->warmup,
                    epochs);
    return 0;
}

static int read_early_stop(struct early_stop_spec *es, const struct vctx *c, const struct ynode *node)
{
    static const char *const keys[] = {"metric", "patience", NULL};
    const char *path = "train.early_stop";
    /* field by field: the struct's padding stays as set_defaults zeroed it */
    es->on = true;
    es->metric = STOP_TEST_LOSS;
    es->patience = 5;
    es->at = spec_mark(node->at);
    if (need_map(c, node, path) != 0 || check_keys(c, node, path, keys) != 0 ||
        opt_int(c, node, path, "patience", 1, 1000000, &es->patience) != 0)
        return c->e->code;
    const struct ynode *metric = map_find(node, "metric");
    int i;
    if (metric && to_choice(c, metric, "train.early_stop.metric", stop_metrics, &i) != 0)
        return c->e->code;
    if (metric)
        es->metric = (enum early_stop_metric)i;
    return 0;
}

int spec_read_train(struct spec *s, const struct vctx *c, const struct ynode *node)
{
    static const char *const keys[] = {"epochs", "lr_schedule", "early_stop", "clip_grad_norm", "checkpoint_every",
                                       NULL};
    struct train_spec *t = &s->train;
    const struct ynode *sub;
    if (need_map(c, node, "train") != 0 || check_keys(c, node, "train", keys) != 0 ||
        need_key(c, node, "train", "epochs") != 0 || opt_int(c, node, "train", "epochs", 1, 1000000, &s->epochs) != 0)
        return c->e->code;
    if (((sub = map_find(node, "lr_schedule")) && read_schedule(&t->lr_schedule, s->epochs, c, sub) != 0) ||
        ((sub = map_find(node, "early_stop")) && read_early_stop(&t->early_stop, c, sub) != 0) ||
        opt_number(c, node, "train", "clip_grad_norm", NUM_POSITIVE, &t->clip_grad_norm) != 0 ||
        opt_int(c, node, "train", "checkpoint_every", 1, 1000000, &t->checkpoint_every) != 0)
        return c->e->code;
    return 0;
}
