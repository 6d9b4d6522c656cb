/* The model part of a spec: `blocks:` and `model:` read into items, then
 * expanded into the flat list of layers, each named as PyTorch names the
 * module in the same tree of nn.Sequential (docs/SPEC.md, "Blocks"). */
#include "plugin.h"
#include "spec.h"
#include "spec_value.h"

#include <stdio.h>
#include <string.h>

static const char *const layer_names[] = {"linear",  "flatten",  "relu",   "sigmoid", "tanh",
                                          "dropout", "softmax", "centered", "plugin", NULL};
_Static_assert(sizeof layer_names / sizeof layer_names[0] == LAYER_KIND_COUNT + 1, "a name for every layer kind");

const char *layer_kind_name(enum layer_kind k)
{
    return (unsigned)k < LAYER_KIND_COUNT ? layer_names[k] : "?";
}

static bool is_layer_name(const char *word)
{
    for (int i = 0; layer_names[i]; i++)
        if (strcmp(word, layer_names[i]) == 0)
            return true;
    return false;
}

/* Layer and block names: a letter or '_', then letters, digits, '_', '-'. */
static int read_id(const struct vctx *c, const struct ynode *node, const char *path, char out[SPEC_ID_LEN])
{
    if (to_string(c, node, path, out, SPEC_ID_LEN) != 0)
        return c->e->code;
    bool ok = (out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z') || out[0] == '_';
    for (const char *p = out; ok && *p; p++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p) != NULL;
    return ok ? 0 : verr_expected(c, node, path, "a name of letters, digits, '_' and '-' starting with a letter");
}

static int read_layer_init(struct layer_spec *l, const struct vctx *c, const struct ynode *node, const char *path)
{
    static const char *const keys[] = {"weight", "bias", NULL};
    char sub[SPEC_PATH_LEN];
    const struct ynode *w, *b;
    if (need_map(c, node, path) != 0 || check_keys(c, node, path, keys) != 0)
        return c->e->code;
    if ((w = map_find(node, "weight"))) {
        path_join(sub, path, "weight");
        if (spec_read_init(&l->weight_init, c, w, sub) != 0)
            return c->e->code;
        l->own_weight_init = true;
    }
    if ((b = map_find(node, "bias"))) {
        path_join(sub, path, "bias");
        if (spec_read_init(&l->bias_init, c, b, sub) != 0)
            return c->e->code;
        l->own_bias_init = true;
    }
    return 0;
}

static int read_linear(struct layer_spec *l, const struct vctx *c, const struct ynode *args, const char *path)
{
    static const char *const keys[] = {"out", "bias", "name", "share", "trainable", "init", NULL};
    l->kind = LAYER_LINEAR;
    if (check_keys(c, args, path, keys) != 0)
        return c->e->code;
    char sub[SPEC_PATH_LEN];
    const struct ynode *node;
    if ((node = map_find(args, "share"))) {
        path_join(sub, path, "share");
        if (args->n > 1)
            return verr(c, args->at, path,
                        "a shared layer takes everything from the layer it shares; write only {share: NAME}");
        return read_id(c, node, sub, l->share);
    }
    bool trainable = true;
    if (need_key(c, args, path, "out") != 0 || opt_int(c, args, path, "out", 1, 1000000, &l->out) != 0 ||
        opt_bool(c, args, path, "bias", &l->bias) != 0 || opt_bool(c, args, path, "trainable", &trainable) != 0)
        return c->e->code;
    l->frozen = !trainable;
    if ((node = map_find(args, "name"))) {
        path_join(sub, path, "name");
        if (read_id(c, node, sub, l->name) != 0)
            return c->e->code;
    }
    if ((node = map_find(args, "init"))) {
        path_join(sub, path, "init");
        return read_layer_init(l, c, node, sub);
    }
    return 0;
}

/* A plugin layer: the shared object is opened here, so that a missing file,
 * another ABI or an unknown name is a spec error with its position. */
static int read_plugin(struct layer_spec *l, struct spec *s, const struct vctx *c, const struct ynode *args,
                       const char *path)
{
    static const char *const keys[] = {"path", "name", "params", NULL};
    l->kind = LAYER_PLUGIN;
    if (check_keys(c, args, path, keys) != 0 || need_key(c, args, path, "path") != 0 ||
        need_key(c, args, path, "name") != 0)
        return c->e->code;
    if (s->n_plugins == SPEC_MAX_PLUGINS)
        return verr(c, args->at, path, "more than %d plugin layers", SPEC_MAX_PLUGINS);
    struct plugin_spec *p = &s->plugins[s->n_plugins];
    *p = (struct plugin_spec){0};
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, "name");
    if (opt_string(c, args, path, "path", p->path, sizeof p->path) != 0 ||
        read_id(c, map_find(args, "name"), sub, p->name) != 0)
        return c->e->code;
    const struct ynode *params = map_find(args, "params");
    path_join(sub, path, "params");
    if (params && (need_map(c, params, sub) != 0 || check_keys(c, params, sub, NULL) != 0))
        return c->e->code;
    if (params && params->n > SPEC_MAX_SETTINGS)
        return verr(c, params->at, sub, "at most %d params", SPEC_MAX_SETTINGS);
    for (int i = 0; params && i < params->n; i++) {
        char key[SPEC_PATH_LEN];
        path_join(key, sub, params->keys[i]);
        struct ynode name = {.type = Y_SCALAR, .at = params->key_at[i], .text = params->keys[i]};
        if (read_id(c, &name, key, p->keys[i]) != 0 || to_number(c, params->items[i], key, NUM_ANY, &p->values[i]))
            return c->e->code;
        p->n_settings++;
    }
    struct plugin_handle h;
    char why[1024];
    if (plugin_open(&h, p->path, p->name, why, sizeof why) != 0)
        return verr(c, args->at, path, "%s", why);
    plugin_close(&h);
    l->plugin = s->n_plugins++;
    return 0;
}

static int read_layer(struct layer_spec *l, struct spec *s, const struct vctx *c, const struct ynode *node,
                      const char *path)
{
    static const char *const with_settings[] = {"linear", "dropout", "plugin", "repeat", NULL};
    l->at = spec_mark(node->at);
    l->bias = true;
    if (node->type == Y_MAP && node->n == 1 && !map_find(node, "linear") && !map_find(node, "dropout") &&
        !map_find(node, "plugin") && is_layer_name(node->keys[0]))
        return verr(c, node->key_at[0], path, "%s takes no settings; write it as '- %s'", node->keys[0],
                    node->keys[0]);
    if (node->type != Y_MAP)
        return verr_expected(c, node, path, "a layer name or a one-key mapping such as linear: {out: 10}");
    int i;
    if (one_key(&i, c, node, path, with_settings, "layer") != 0)
        return c->e->code;
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, node->keys[0]);
    const struct ynode *args = node->items[0];
    if (need_map(c, args, sub) != 0)
        return c->e->code;
    if (i == 0)
        return read_linear(l, c, args, sub);
    if (i == 2)
        return read_plugin(l, s, c, args, sub);
    static const char *const keys[] = {"p", NULL};
    l->kind = LAYER_DROPOUT;
    if (check_keys(c, args, sub, keys) != 0 || need_key(c, args, sub, "p") != 0)
        return c->e->code;
    return opt_number(c, args, sub, "p", NUM_UNIT, &l->p);
}

/* Layer names, then the block names: what a scalar item may be. */
struct item_names {
    const char *all[LAYER_KIND_COUNT + SPEC_MAX_BLOCKS + 1];
};

static void item_names(struct item_names *n, const struct spec *s)
{
    int k = 0;
    for (int i = 0; layer_names[i]; i++)
        n->all[k++] = layer_names[i];
    for (int b = 0; b < s->n_blocks; b++)
        n->all[k++] = s->blocks[b].name;
    n->all[k] = NULL;
}

static int read_repeat(struct item_spec *it, const struct spec *s, const struct vctx *c, const struct ynode *args,
                       const char *path)
{
    static const char *const keys[] = {"times", "block", "name", NULL};
    char what[64];
    snprintf(what, sizeof what, "the name of a block in blocks:");
    if (need_map(c, args, path) != 0 || check_keys(c, args, path, keys) != 0 ||
        need_key(c, args, path, "times") != 0 || need_key(c, args, path, "block") != 0 ||
        opt_int(c, args, path, "times", 1, SPEC_MAX_REPEAT, &it->times) != 0)
        return c->e->code;
    const char *names[SPEC_MAX_BLOCKS + 1] = {NULL};
    for (int b = 0; b < s->n_blocks; b++)
        names[b] = s->blocks[b].name;
    char sub[SPEC_PATH_LEN];
    path_join(sub, path, "block");
    const struct ynode *block = map_find(args, "block");
    if (s->n_blocks == 0)
        return verr_expected(c, block, sub, "the name of a block (none is defined under blocks:)");
    if (to_choice(c, block, sub, names, &it->block) != 0)
        return c->e->code;
    it->kind = ITEM_REPEAT;
    const struct ynode *name = map_find(args, "name");
    if (!name)
        return 0;
    path_join(sub, path, "name");
    if (to_string(c, name, sub, it->prefix, sizeof it->prefix) != 0)
        return c->e->code;
    if (!it->prefix[0] || strchr(it->prefix, '.'))
        return verr_expected(c, name, sub, "a non-empty name prefix without '.' (PyTorch's module names)");
    return 0;
}

static int read_item(struct item_spec *it, struct spec *s, const struct vctx *c, const struct ynode *node,
                     const char *path)
{
    it->at = spec_mark(node->at);
    if (node->type == Y_SCALAR) {
        struct item_names n;
        item_names(&n, s);
        int i;
        if (to_choice(c, node, path, n.all, &i) != 0)
            return c->e->code;
        if (i >= LAYER_KIND_COUNT) {
            *it = (struct item_spec){.kind = ITEM_BLOCK, .block = i - LAYER_KIND_COUNT, .at = it->at};
            return 0;
        }
        it->kind = ITEM_LAYER;
        it->layer = (struct layer_spec){.kind = (enum layer_kind)i, .bias = true, .at = it->at};
        if (i == LAYER_LINEAR || i == LAYER_DROPOUT || i == LAYER_PLUGIN)
            return verr(c, node->at, path, "%s needs its settings, e.g. %s", node->text,
                        i == LAYER_LINEAR    ? "linear: {out: 10}"
                        : i == LAYER_DROPOUT ? "dropout: {p: 0.5}"
                                             : "plugin: {path: ./my_layer.so, name: my_linear}");
        return 0;
    }
    if (node->type == Y_MAP && node->n == 1 && strcmp(node->keys[0], "repeat") == 0) {
        char sub[SPEC_PATH_LEN];
        path_join(sub, path, "repeat");
        return read_repeat(it, s, c, node->items[0], sub);
    }
    it->kind = ITEM_LAYER;
    return read_layer(&it->layer, s, c, node, path);
}

/* A list of items (model or a block) into the item pool. */
static int read_list(struct item_list *list, struct spec *s, const struct vctx *c, const struct ynode *node,
                     const char *path)
{
    char what[64];
    snprintf(what, sizeof what, "a list of 1 to %d layers or blocks", SPEC_MAX_LIST);
    if (node->type != Y_SEQ || node->n == 0 || node->n > SPEC_MAX_LIST)
        return verr_expected(c, node, path, what);
    if (s->n_items + node->n > SPEC_MAX_ITEMS)
        return verr(c, node->at, path, "more than %d items in model and blocks together", SPEC_MAX_ITEMS);
    *list = (struct item_list){s->n_items, node->n};
    s->n_items += node->n;
    for (int i = 0; i < node->n; i++) {
        char sub[SPEC_PATH_LEN];
        path_index(sub, path, i);
        if (read_item(&s->items[list->first + i], s, c, node->items[i], sub) != 0)
            return c->e->code;
    }
    return 0;
}

static int read_blocks(struct spec *s, const struct vctx *c, const struct ynode *node)
{
    char what[64];
    snprintf(what, sizeof what, "a mapping of 1 to %d block names to lists", SPEC_MAX_BLOCKS);
    if (node->type != Y_MAP || node->n == 0 || node->n > SPEC_MAX_BLOCKS)
        return verr_expected(c, node, "blocks", what);
    if (check_keys(c, node, "blocks", NULL) != 0) /* duplicates only: any name may be a block */
        return c->e->code;
    /* every name first: a block may use one defined after it */
    for (int b = 0; b < node->n; b++) {
        struct block_spec *block = &s->blocks[b];
        char path[SPEC_PATH_LEN];
        path_join(path, "blocks", node->keys[b]);
        struct ynode key = {.type = Y_SCALAR, .at = node->key_at[b], .text = node->keys[b]};
        if (read_id(c, &key, path, block->name) != 0)
            return c->e->code;
        if (is_layer_name(block->name))
            return verr(c, node->key_at[b], path, "'%s' is a layer; give the block another name", block->name);
        block->at = spec_mark(node->key_at[b]);
    }
    s->n_blocks = node->n;
    for (int b = 0; b < node->n; b++) {
        char path[SPEC_PATH_LEN];
        path_join(path, "blocks", node->keys[b]);
        if (read_list(&s->blocks[b].items, s, c, node->items[b], path) != 0)
            return c->e->code;
    }
    return 0;
}

/* Expanding the items into spec.layers: blocks in use, innermost last. */
struct expansion {
    struct spec *s;
    const struct vctx *c;
    int stack[SPEC_MAX_DEPTH + 1]; /* the blocks being expanded */
    int depth;
};

static struct ypos item_pos(const struct item_spec *it)
{
    return (struct ypos){it->at.line, it->at.col, NULL};
}

/* "b1 -> b2 -> b1": the blocks on the stack from `from`, then `b`. */
static void block_chain(char *out, size_t cap, const struct expansion *x, int from, int b)
{
    out[0] = '\0';
    for (int d = from; d < x->depth; d++) {
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s -> ", x->s->blocks[x->stack[d]].name);
    }
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s", x->s->blocks[b].name);
}

static int add_layer(struct expansion *x, const struct layer_spec *ls, const char *module, const char *path)
{
    struct spec *s = x->s;
    struct ypos at = {ls->at.line, ls->at.col, NULL};
    if (s->n_layers == SPEC_MAX_LAYERS)
        return verr(x->c, at, path, "the model expands to more than %d layers", SPEC_MAX_LAYERS);
    struct layer_spec *l = &s->layers[s->n_layers];
    *l = *ls;
    snprintf(l->module, sizeof l->module, "%.*s", SPEC_MODULE_LEN - 1, module); /* checked to fit */
    char sub[SPEC_PATH_LEN];
    for (int i = 0; i < s->n_layers && l->name[0]; i++)
        if (!strcmp(s->layers[i].name, l->name)) {
            path_join(sub, path, "linear.name");
            return verr(x->c, at, sub, "'%s' names the layer %s already (a named layer in a block used twice?)",
                        l->name, s->layers[i].module);
        }
    if (l->share[0]) {
        int owner = -1;
        for (int i = 0; i < s->n_layers && owner < 0; i++)
            if (!strcmp(s->layers[i].name, l->share))
                owner = i;
        path_join(sub, path, "linear.share");
        if (owner < 0) {
            const char *names[SPEC_MAX_LAYERS + 1];
            int n = 0;
            for (int i = 0; i < s->n_layers; i++)
                if (s->layers[i].name[0])
                    names[n++] = s->layers[i].name;
            names[n] = NULL;
            const char *near = suggest(l->share, names);
            if (near)
                return verr(x->c, at, sub, "no layer named '%s' before this one (did you mean '%s'?)", l->share, near);
            return verr(x->c, at, sub, "no layer named '%s' before this one", l->share);
        }
        const struct layer_spec *o = &s->layers[owner];
        l->owner = owner;
        l->out = o->out;
        l->bias = o->bias;
        l->frozen = o->frozen;
    }
    s->n_layers++;
    return 0;
}

static int expand_list(struct expansion *x, struct item_list list, const char *where, const char *module);

static int expand_block(struct expansion *x, const struct item_spec *it, const char *path, const char *module)
{
    char chain[SPEC_MAX_DEPTH * (SPEC_ID_LEN + 4) + SPEC_ID_LEN];
    for (int d = 0; d < x->depth; d++)
        if (x->stack[d] == it->block) {
            block_chain(chain, sizeof chain, x, d, it->block);
            return verr(x->c, item_pos(it), path, "block '%s' contains itself (%s)", x->s->blocks[it->block].name,
                        chain);
        }
    if (x->depth == SPEC_MAX_DEPTH) {
        block_chain(chain, sizeof chain, x, 0, it->block);
        return verr(x->c, item_pos(it), path, "blocks nested more than %d deep (%s)", SPEC_MAX_DEPTH, chain);
    }
    const struct block_spec *b = &x->s->blocks[it->block];
    char where[SPEC_PATH_LEN];
    path_join(where, "blocks", b->name);
    x->stack[x->depth++] = it->block;
    int rc = expand_list(x, b->items, where, module);
    x->depth--;
    return rc;
}

static int expand_list(struct expansion *x, struct item_list list, const char *where, const char *module)
{
    int child = 0; /* the position in this nn.Sequential */
    for (int j = 0; j < list.n; j++) {
        const struct item_spec *it = &x->s->items[list.first + j];
        char path[SPEC_PATH_LEN], name[SPEC_MODULE_LEN + 8], sub[SPEC_MODULE_LEN + 8 + SPEC_ID_LEN];
        path_index(path, where, j);
        int copies = it->kind == ITEM_REPEAT ? it->times : 1;
        for (int r = 0; r < copies; r++, child++) {
            if (it->kind == ITEM_REPEAT && it->prefix[0])
                snprintf(name, sizeof name, "%s%d", it->prefix, r);
            else
                snprintf(name, sizeof name, "%d", child);
            int len = snprintf(sub, sizeof sub, "%s%s%s", module, *module ? "." : "", name);
            if (len >= SPEC_MODULE_LEN)
                return verr(x->c, item_pos(it), path, "the module name '%s' is longer than %d bytes", sub,
                            SPEC_MODULE_LEN - 1);
            int rc = it->kind == ITEM_LAYER ? add_layer(x, &it->layer, sub, path) : expand_block(x, it, path, sub);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int spec_read_model(struct spec *s, const struct vctx *c, const struct ynode *blocks, const struct ynode *model)
{
    if ((blocks && read_blocks(s, c, blocks) != 0) || read_list(&s->model, s, c, model, "model") != 0)
        return c->e->code;
    struct expansion x = {.s = s, .c = c};
    s->n_layers = 0;
    if (expand_list(&x, s->model, "model", "") != 0)
        return c->e->code;
    for (int i = 0; i < s->n_layers; i++)
        if (s->layers[i].kind == LAYER_LINEAR)
            return 0;
    return verr(c, model->at, "model", "expected at least one linear layer");
}
