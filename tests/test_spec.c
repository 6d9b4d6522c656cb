/* The spec loader: every bad spec in tests/specs/bad gives exactly the
 * message in its .err file; good specs load with their values and defaults
 * and survive spec_write -> spec_load; --set overrides are checked like the
 * file; spec_check_fit matches loss and last layer to the data. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/spec.h"

/* Paths in messages are relative to the repository root. */
static void enter_root(void)
{
    const char *root = getenv("D2L_ROOT");
    if (root && *root)
        ck_assert_int_eq(chdir(root), 0);
}

static int load(struct spec *s, struct err *e, const char *path, const char *const *sets, int n_sets)
{
    memset(e, 0, sizeof *e);
    return spec_load(s, path, sets, n_sets, e);
}

static int load_text(struct spec *s, struct err *e, const char *yaml)
{
    memset(e, 0, sizeof *e);
    return spec_load_string(s, "t.yaml", yaml, strlen(yaml), NULL, 0, e);
}

static void first_line(char *out, size_t cap, const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_msg(fgets(out, (int)cap, f) != NULL, "%s is empty", path);
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

START_TEST(bad_specs_give_their_messages)
{
    enter_root();
    DIR *dir = opendir("tests/specs/bad");
    ck_assert_ptr_nonnull(dir);
    int checked = 0;
    for (struct dirent *ent; (ent = readdir(dir));) {
        size_t len = strlen(ent->d_name);
        if (len < 6 || strcmp(ent->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[512], err_path[512], want[4096];
        snprintf(path, sizeof path, "tests/specs/bad/%s", ent->d_name);
        snprintf(err_path, sizeof err_path, "tests/specs/bad/%.*s.err", (int)(len - 5), ent->d_name);
        first_line(want, sizeof want, err_path);
        struct spec s;
        struct err e;
        ck_assert_msg(load(&s, &e, path, NULL, 0) == EXIT_USAGE, "%s loaded without error", path);
        ck_assert_msg(e.code == EXIT_USAGE, "%s: code %d", path, e.code);
        ck_assert_msg(strcmp(e.msg, want) == 0, "%s:\n got: %s\nwant: %s", path, e.msg, want);
        checked++;
    }
    closedir(dir);
    ck_assert_int_ge(checked, 20);
}
END_TEST

START_TEST(linear_regression_values_and_defaults)
{
    enter_root();
    struct spec s;
    struct err e;
    ck_assert_int_eq(load(&s, &e, "tests/specs/good/linear_regression.yaml", NULL, 0), 0);
    ck_assert_str_eq(s.name, "linear_regression");
    ck_assert_uint_eq(s.seed, 42);
    ck_assert_str_eq(s.device, "auto");
    ck_assert(!s.tf32);
    ck_assert(!s.cpu_bf16);
    ck_assert_int_eq(s.data.kind, DATASET_SYNTHETIC_LINEAR);
    ck_assert_int_eq(s.data.n_w, 2);
    ck_assert(s.data.w[0] == 2 && s.data.w[1] == -3.4);
    ck_assert(s.data.b == 4.2);
    ck_assert_int_eq(s.data.n_train, 1000);
    ck_assert_int_eq(s.data.n_test, 0);
    ck_assert_int_eq(s.data.batch_size, 10);
    ck_assert(s.data.shuffle);
    ck_assert_int_eq(s.n_layers, 1);
    ck_assert_int_eq(s.layers[0].kind, LAYER_LINEAR);
    ck_assert_int_eq(s.layers[0].out, 1);
    ck_assert(s.layers[0].bias);
    ck_assert_int_eq(s.layers[0].at.line, 10);
    ck_assert_int_eq(s.layers[0].at.col, 5);
    ck_assert_int_eq(s.weight_init.kind, INIT_NORMAL);
    ck_assert(s.weight_init.a == 0 && s.weight_init.b == 0.01);
    ck_assert_int_eq(s.bias_init.kind, INIT_ZEROS);
    ck_assert_int_eq(s.loss.kind, LOSS_SQUARED);
    ck_assert_int_eq(s.loss.at.line, 11);
    ck_assert_int_eq(s.optim.kind, OPT_SGD);
    ck_assert(s.optim.lr == 0.03 && s.optim.momentum == 0 && s.optim.weight_decay == 0);
    ck_assert(s.optim.decay_bias);
    ck_assert_int_eq(s.penalty.kind, PENALTY_NONE);
    ck_assert_int_eq(s.epochs, 3);
    ck_assert_int_eq(s.kfold.k, 5);
    ck_assert(!s.kfold.shuffle && !s.kfold.metric_set);
    ck_assert(s.report_set);
    ck_assert_uint_eq(spec_report_items(&s), (1u << REPORT_RECOVERY) | (1u << REPORT_L2_NORM));
}
END_TEST

START_TEST(mlp_dropout_values)
{
    enter_root();
    struct spec s;
    struct err e;
    ck_assert_int_eq(load(&s, &e, "tests/specs/good/mlp_dropout.yaml", NULL, 0), 0);
    ck_assert_str_eq(s.name, "mlp_dropout");
    ck_assert_uint_eq(s.seed, 7);
    ck_assert_str_eq(s.device, "cuda:0");
    ck_assert(s.tf32);
    ck_assert(s.cpu_bf16);
    ck_assert_int_eq(s.data.kind, DATASET_REGISTRY);
    ck_assert_str_eq(s.data.dataset, "fashion_mnist");
    ck_assert_int_eq(s.n_layers, 8);
    static const enum layer_kind kinds[] = {LAYER_FLATTEN, LAYER_LINEAR, LAYER_RELU, LAYER_DROPOUT,
                                            LAYER_LINEAR,  LAYER_RELU,   LAYER_DROPOUT, LAYER_LINEAR};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(s.layers[i].kind, kinds[i]);
    ck_assert(s.layers[3].p == 0.5 && s.layers[6].p == 0.2);
    ck_assert(!s.layers[4].bias && s.layers[7].bias);
    ck_assert_int_eq(s.layers[7].out, 10);
    ck_assert_int_eq(s.bias_init.kind, INIT_CONSTANT);
    ck_assert(s.bias_init.a == 0.5);
    ck_assert_int_eq(s.loss.kind, LOSS_CROSS_ENTROPY);
    ck_assert(s.optim.lr == 0.5 && s.optim.momentum == 0.9 && s.optim.weight_decay == 1e-4);
    ck_assert(!s.optim.decay_bias);
    const struct train_spec *t = &s.train;
    ck_assert_int_eq(t->lr_schedule.kind, LR_STEP);
    ck_assert_int_eq(t->lr_schedule.every, 4);
    ck_assert(t->lr_schedule.gamma == 0.5);
    ck_assert(t->early_stop.on);
    ck_assert_int_eq(t->early_stop.metric, STOP_TEST_ACC);
    ck_assert_int_eq(t->early_stop.patience, 3);
    ck_assert(t->clip_grad_norm == 2.5);
    ck_assert_int_eq(t->checkpoint_every, 2);
}
END_TEST

START_TEST(kaggle_values)
{
    enter_root();
    struct spec s;
    struct err e;
    ck_assert_int_eq(load(&s, &e, "tests/specs/good/kaggle_house.yaml", NULL, 0), 0);
    const struct preprocess_spec *p = &s.data.preprocess;
    ck_assert_str_eq(p->id_column, "Id");
    ck_assert_str_eq(p->label_column, "SalePrice");
    ck_assert(p->standardize && p->stats_from_train_only && !p->dummy_na && p->none_is_value);
    ck_assert(!s.data.shuffle);
    ck_assert_int_eq(s.weight_init.kind, INIT_XAVIER_UNIFORM);
    ck_assert(s.weight_init.a == 1);
    ck_assert_int_eq(s.bias_init.kind, INIT_UNIFORM);
    ck_assert(s.bias_init.a == -0.5 && s.bias_init.b == 0.5);
    ck_assert_int_eq(s.loss.kind, LOSS_HUBER);
    ck_assert(s.loss.delta == 2.5);
    ck_assert_int_eq(s.optim.kind, OPT_ADAM);
    ck_assert(s.optim.lr == 5 && s.optim.beta1 == 0.8 && s.optim.beta2 == 0.99 && s.optim.eps == 1e-7);
    ck_assert_int_eq(s.penalty.kind, PENALTY_L2);
    ck_assert(s.penalty.lambda == 0.001);
    ck_assert_int_eq(s.kfold.k, 5);
    ck_assert(s.kfold.shuffle && s.kfold.metric_set);
    ck_assert_int_eq(s.kfold.metric, KFOLD_LOG_RMSE);
}
END_TEST

START_TEST(poly_and_url_values)
{
    enter_root();
    struct spec s;
    struct err e;
    ck_assert_int_eq(load(&s, &e, "tests/specs/good/poly.yaml", NULL, 0), 0);
    ck_assert_int_eq(s.data.kind, DATASET_SYNTHETIC_POLY);
    ck_assert_int_eq(s.data.n_w, 4);
    ck_assert(s.data.w[3] == 5.6);
    ck_assert_int_eq(s.data.max_degree, 20);
    ck_assert_int_eq(s.train.lr_schedule.kind, LR_COSINE);
    ck_assert_int_eq(s.train.lr_schedule.warmup, 10);
    ck_assert(s.train.lr_schedule.min_lr == 0.001);
    ck_assert(!s.train.early_stop.on && s.train.clip_grad_norm == 0);
    ck_assert_int_eq(s.data.features, 4); /* default: the number of coefficients */
    ck_assert(s.data.noise == 0.1);
    ck_assert_int_eq(s.weight_init.kind, INIT_XAVIER_NORMAL);
    ck_assert(s.weight_init.a == 2);
    ck_assert_int_eq(s.penalty.kind, PENALTY_L1);

    ck_assert_int_eq(load(&s, &e, "tests/specs/good/url_csv.yaml", NULL, 0), 0);
    ck_assert_int_eq(s.data.kind, DATASET_URL);
    ck_assert_str_eq(s.data.sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    ck_assert_str_eq(s.data.sha1, "");
    ck_assert_str_eq(s.data.test_sha1, "585e9cc93e70b39160e7921475f9bcd7d31219ce");
    ck_assert_int_eq(s.data.size, 0); /* not given: the download cap */
    ck_assert_int_eq(s.data.test_size, 460676);
    ck_assert_str_eq(s.data.preprocess.label_column, "price \"usd\"");
    ck_assert(s.data.preprocess.standardize && s.data.preprocess.dummy_na);
}
END_TEST

static void assert_same_init(const struct init_spec *a, const struct init_spec *b)
{
    ck_assert_int_eq(a->kind, b->kind);
    ck_assert(a->a == b->a && a->b == b->b);
}

/* Every field but the marks and the path. */
static void assert_same_spec(const struct spec *a, const struct spec *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert_str_eq(a->device, b->device);
    ck_assert_int_eq(a->tf32, b->tf32);
    ck_assert_int_eq(a->cpu_bf16, b->cpu_bf16);
    const struct data_spec *x = &a->data, *y = &b->data;
    ck_assert_int_eq(x->kind, y->kind);
    ck_assert_str_eq(x->dataset, y->dataset);
    ck_assert_int_eq(x->batch_size, y->batch_size);
    ck_assert_int_eq(x->shuffle, y->shuffle);
    ck_assert_int_eq(x->n_w, y->n_w);
    ck_assert(memcmp(x->w, y->w, sizeof x->w) == 0);
    ck_assert(x->b == y->b && x->noise == y->noise);
    ck_assert_int_eq(x->n_train, y->n_train);
    ck_assert_int_eq(x->n_test, y->n_test);
    ck_assert_int_eq(x->max_degree, y->max_degree);
    ck_assert_int_eq(x->features, y->features);
    ck_assert_str_eq(x->url, y->url);
    ck_assert_str_eq(x->sha1, y->sha1);
    ck_assert_str_eq(x->sha256, y->sha256);
    ck_assert_str_eq(x->test_url, y->test_url);
    ck_assert_str_eq(x->test_sha1, y->test_sha1);
    ck_assert_str_eq(x->test_sha256, y->test_sha256);
    ck_assert_int_eq(x->size, y->size);
    ck_assert_int_eq(x->test_size, y->test_size);
    ck_assert_str_eq(x->preprocess.id_column, y->preprocess.id_column);
    ck_assert_str_eq(x->preprocess.label_column, y->preprocess.label_column);
    ck_assert_int_eq(x->preprocess.standardize, y->preprocess.standardize);
    ck_assert_int_eq(x->preprocess.stats_from_train_only, y->preprocess.stats_from_train_only);
    ck_assert_int_eq(x->preprocess.none_is_value, y->preprocess.none_is_value);
    ck_assert_int_eq(x->preprocess.dummy_na, y->preprocess.dummy_na);
    ck_assert_int_eq(a->n_layers, b->n_layers);
    for (int i = 0; i < a->n_layers; i++) {
        ck_assert_int_eq(a->layers[i].kind, b->layers[i].kind);
        ck_assert_int_eq(a->layers[i].out, b->layers[i].out);
        ck_assert_int_eq(a->layers[i].bias, b->layers[i].bias);
        ck_assert(a->layers[i].p == b->layers[i].p);
        ck_assert_str_eq(a->layers[i].module, b->layers[i].module);
        ck_assert_str_eq(a->layers[i].name, b->layers[i].name);
        ck_assert_str_eq(a->layers[i].share, b->layers[i].share);
        ck_assert_int_eq(a->layers[i].owner, b->layers[i].owner);
        ck_assert_int_eq(a->layers[i].frozen, b->layers[i].frozen);
        ck_assert_int_eq(a->layers[i].own_weight_init, b->layers[i].own_weight_init);
        ck_assert_int_eq(a->layers[i].own_bias_init, b->layers[i].own_bias_init);
        if (a->layers[i].own_weight_init)
            assert_same_init(&a->layers[i].weight_init, &b->layers[i].weight_init);
        if (a->layers[i].own_bias_init)
            assert_same_init(&a->layers[i].bias_init, &b->layers[i].bias_init);
    }
    ck_assert_int_eq(a->n_items, b->n_items);
    ck_assert_int_eq(a->n_blocks, b->n_blocks);
    for (int i = 0; i < a->n_blocks; i++)
        ck_assert_str_eq(a->blocks[i].name, b->blocks[i].name);
    assert_same_init(&a->weight_init, &b->weight_init);
    assert_same_init(&a->bias_init, &b->bias_init);
    ck_assert_int_eq(a->loss.kind, b->loss.kind);
    ck_assert(a->loss.delta == b->loss.delta);
    const struct optim_spec *o = &a->optim, *q = &b->optim;
    ck_assert_int_eq(o->kind, q->kind);
    ck_assert(o->lr == q->lr && o->momentum == q->momentum && o->weight_decay == q->weight_decay);
    ck_assert(o->beta1 == q->beta1 && o->beta2 == q->beta2 && o->eps == q->eps);
    ck_assert_int_eq(o->decay_bias, q->decay_bias);
    ck_assert_int_eq(a->penalty.kind, b->penalty.kind);
    ck_assert(a->penalty.lambda == b->penalty.lambda);
    ck_assert_int_eq(a->epochs, b->epochs);
    const struct train_spec *t = &a->train, *u = &b->train;
    ck_assert_int_eq(t->lr_schedule.kind, u->lr_schedule.kind);
    ck_assert_int_eq(t->lr_schedule.every, u->lr_schedule.every);
    ck_assert(t->lr_schedule.gamma == u->lr_schedule.gamma && t->lr_schedule.min_lr == u->lr_schedule.min_lr);
    ck_assert_int_eq(t->lr_schedule.warmup, u->lr_schedule.warmup);
    ck_assert_int_eq(t->early_stop.on, u->early_stop.on);
    ck_assert_int_eq(t->early_stop.metric, u->early_stop.metric);
    ck_assert_int_eq(t->early_stop.patience, u->early_stop.patience);
    ck_assert(t->clip_grad_norm == u->clip_grad_norm);
    ck_assert_int_eq(t->checkpoint_every, u->checkpoint_every);
    ck_assert_int_eq(a->report_set, b->report_set);
    ck_assert_uint_eq(a->report, b->report);
    ck_assert_int_eq(a->kfold.k, b->kfold.k);
    ck_assert_int_eq(a->kfold.shuffle, b->kfold.shuffle);
    ck_assert_int_eq(a->kfold.metric, b->kfold.metric);
    ck_assert_int_eq(a->kfold.metric_set, b->kfold.metric_set);
}

START_TEST(written_specs_read_back_the_same)
{
    enter_root();
    char dir[] = "/tmp/d2l-spec-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char out[64];
    snprintf(out, sizeof out, "%s/effective.yaml", dir);
    static const char *const good[] = {"linear_regression", "mlp_dropout", "kaggle_house", "poly", "url_csv",
                                       "../../../configs/blocks_ch5", "../../../configs/rgnet"};
    /* Doubles that only 17 digits round-trip, set through --set. */
    const char *const sets[] = {"optimizer.sgd.lr=0.1234567890123456789", "data.noise=3e-300"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/specs/good/%s.yaml", good[i]);
        struct spec a, b;
        struct err e;
        int n_sets = strcmp(good[i], "linear_regression") == 0 ? 2 : 0;
        ck_assert_msg(load(&a, &e, path, sets, n_sets) == 0, "%s", e.msg);
        FILE *f = fopen(out, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(spec_write(&a, f), 0);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_msg(load(&b, &e, out, NULL, 0) == 0, "%s: %s", good[i], e.msg);
        assert_same_spec(&a, &b);
    }
    ck_assert_int_eq(unlink(out), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(set_overrides_take_effect)
{
    enter_root();
    struct spec s;
    struct err e;
    const char *const sets[] = {"optimizer.sgd.lr=0.3", "penalty.l2=0.01", "train.epochs=7", "data.w=[1, 2, 3]",
                                "name=renamed", "optimizer.sgd.lr=0.25"};
    ck_assert_msg(load(&s, &e, "tests/specs/good/linear_regression.yaml", sets, 6) == 0, "%s", e.msg);
    ck_assert(s.optim.lr == 0.25); /* the later --set wins */
    ck_assert_int_eq(s.penalty.kind, PENALTY_L2);
    ck_assert(s.penalty.lambda == 0.01);
    ck_assert_int_eq(s.epochs, 7);
    ck_assert_int_eq(s.data.n_w, 3);
    ck_assert(s.data.w[2] == 3);
    ck_assert_str_eq(s.name, "renamed");

    const char *const adam[] = {"optimizer={adam: {lr: 0.1, betas: [0.5, 0.75]}}"};
    ck_assert_msg(load(&s, &e, "tests/specs/good/linear_regression.yaml", adam, 1) == 0, "%s", e.msg);
    ck_assert_int_eq(s.optim.kind, OPT_ADAM);
    ck_assert(s.optim.beta1 == 0.5 && s.optim.beta2 == 0.75);
}
END_TEST

static void assert_set_error(const char *set, const char *want)
{
    struct spec s;
    struct err e;
    const char *const sets[] = {set};
    ck_assert_int_eq(load(&s, &e, "tests/specs/good/linear_regression.yaml", sets, 1), EXIT_USAGE);
    ck_assert_str_eq(e.msg, want);
}

START_TEST(set_errors_name_the_override)
{
    enter_root();
    assert_set_error("optimizer.sgd.lr=abc", "--set optimizer.sgd.lr=abc: optimizer.sgd.lr: expected a number, got 'abc'");
    assert_set_error("optimizer.sgd.lr=-1", "--set optimizer.sgd.lr=-1: optimizer.sgd.lr: expected a positive number, got -1");
    assert_set_error("optimizer.sgd.lrr=0.1",
                     "--set optimizer.sgd.lrr=0.1: optimizer.sgd.lrr: unknown key (did you mean 'lr'?)");
    assert_set_error("optimizer.adam.lr=0.1", "--set optimizer.adam.lr=0.1: optimizer.adam: expected exactly one "
                                              "optimizer (sgd or adam), got 'sgd' and 'adam'");
    assert_set_error("model.0.out=3",
                     "--set model.0.out=3: model.0: model is a list of 1 item: index it, as model[0]");
    assert_set_error("lr", "--set lr: expected path=value, e.g. optimizer.sgd.lr=0.1");
    assert_set_error("seed=*x", "--set seed=*x: YAML aliases are not supported");
    assert_set_error("data.w=[1, 2", "--set data.w=[1, 2: invalid YAML: did not find expected ',' or ']' "
                                     "(while parsing a flow sequence at line 1, column 1)");
    assert_set_error("train.epochs=", "--set train.epochs=: train.epochs: expected an integer, got ''");
}
END_TEST

/* --set reaches list items: model[i], nested keys below them, blocks'
 * lists, a whole item replaced. */
START_TEST(set_reaches_list_items)
{
    enter_root();
    struct spec s;
    struct err e;
    const char *const sets[] = {"model[1].linear.out=64", "model[3].dropout.p=0.25", "model[4]={linear: {out: 32}}",
                                "model[6]=relu"};
    ck_assert_msg(load(&s, &e, "tests/specs/good/mlp_dropout.yaml", sets, 4) == 0, "%s", e.msg);
    ck_assert_int_eq(s.layers[1].out, 64);
    ck_assert(s.layers[3].p == 0.25);
    ck_assert_int_eq(s.layers[4].out, 32);
    ck_assert(s.layers[4].bias); /* the whole item replaced: bias: false is gone */
    ck_assert_int_eq(s.layers[6].kind, LAYER_RELU);
    ck_assert_int_eq(s.layers[7].out, 10); /* untouched */

    const char *const block_sets[] = {"blocks.block1[2].linear.out=6"};
    ck_assert_msg(load(&s, &e, "configs/blocks_ch5.yaml", block_sets, 1) == 0, "%s", e.msg);
    ck_assert_int_eq(s.layers[2].out, 6); /* block2 = 4 x block1: its second linear, once per copy */
    ck_assert_int_eq(s.layers[6].out, 6);

    /* an index out of range, into a non-list, malformed brackets */
    assert_set_error("model[1].linear.out=3",
                     "--set model[1].linear.out=3: model[1]: index 1 is out of range: model has 1 item (indices 0 to 0)");
    assert_set_error("model[0].linear.out=0",
                     "--set model[0].linear.out=0: model[0].linear.out: expected an integer in 1..1000000, got 0");
    assert_set_error("data[0]=1", "--set data[0]=1: data[0]: data is not a list");
    assert_set_error("model[0][1]=1", "--set model[0][1]=1: model[0][1]: model[0] is not a list");
    assert_set_error("model[0].linear[2]=1", "--set model[0].linear[2]=1: model[0].linear[2]: model[0].linear is not a list");
    assert_set_error("nothere[0].x=1", "--set nothere[0].x=1: nothere: no such list to index");
    const char *const malformed[] = {"model[]", "model[x]", "model[1", "model1]", "model[-1]", "[0]", "model[0]x",
                                     "model..a", "model[0]."};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        char set[64], want[192];
        snprintf(set, sizeof set, "%s=1", malformed[i]);
        snprintf(want, sizeof want, "--set %s: '%s' is not a key path like optimizer.sgd.lr or model[1].linear.out",
                 set, malformed[i]);
        assert_set_error(set, want);
    }
}
END_TEST

START_TEST(hostile_yaml_is_refused)
{
    struct spec s;
    struct err e;
    /* 20000 list items: over the node limit. */
    size_t n = 20000, len = 0;
    char *text = malloc(16 + 2 * n);
    ck_assert_ptr_nonnull(text);
    len += (size_t)sprintf(text, "model: [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "1,");
    text[len - 1] = ']';
    struct err e2 = {0};
    ck_assert_int_eq(spec_load_string(&s, "t.yaml", text, len, NULL, 0, &e2), EXIT_USAGE);
    ck_assert_msg(strstr(e2.msg, "too many YAML nodes") != NULL, "%s", e2.msg);
    free(text);

    /* Over 1 MiB. */
    size_t big = (1 << 20) + 1;
    text = malloc(big);
    ck_assert_ptr_nonnull(text);
    memset(text, ' ', big);
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(spec_load_string(&s, "t.yaml", text, big, NULL, 0, &e), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: larger than 1 MiB; a spec is a small text file");
    free(text);

    ck_assert_int_eq(load_text(&s, &e, "a: \"x\\0y\"\n"), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:1:4: a NUL character in a scalar is not supported");
    ck_assert_int_eq(load_text(&s, &e, "? [a]\n: 1\n"), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:1:3: mapping keys must be plain scalars");
    ck_assert_int_eq(load_text(&s, &e, "- 1\n"), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:1:1: expected a mapping of keys, got a list");
    ck_assert_int_eq(load(&s, &e, "/nonexistent/dir/x.yaml", NULL, 0), EXIT_USAGE);
}
END_TEST

static const char fit_yaml[] = "data: {dataset: fashion_mnist}\n"
                               "model:\n"
                               "  - flatten\n"
                               "  - linear: {out: 10}\n"
                               "  - softmax\n"
                               "loss: nll\n"
                               "optimizer: {sgd: {lr: 0.1}}\n"
                               "train: {epochs: 1}\n";

START_TEST(check_fit_matches_loss_and_width)
{
    struct spec s;
    struct err e;
    ck_assert_int_eq(load_text(&s, &e, fit_yaml), 0);
    ck_assert_int_eq(spec_check_fit(&s, 784, 10, 1, &e), 0);

    ck_assert_int_eq(spec_check_fit(&s, 784, 5, 1, &e), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:4:5: model[1].linear.out: the last linear layer must have out 5 "
                            "(the number of classes), got 10");

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(spec_check_fit(&s, 784, 0, 1, &e), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:6:7: loss: nll needs class labels, but the data has real-valued targets "
                            "(use mse, squared, huber or l1)");

    const char *const mse[] = {"loss=mse"};
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(spec_load_string(&s, "t.yaml", fit_yaml, strlen(fit_yaml), mse, 1, &e), 0);
    ck_assert_int_eq(spec_check_fit(&s, 784, 10, 1, &e), EXIT_USAGE);
    ck_assert_msg(strstr(e.msg, "--set loss=mse: loss: mse needs real-valued targets") == e.msg, "%s", e.msg);
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(spec_check_fit(&s, 784, 0, 10, &e), 0);
    ck_assert_int_eq(spec_check_fit(&s, 784, 0, 2, &e), EXIT_USAGE);
}
END_TEST

/* The chapter-5 spec: blocks expand in order, modules are named as
 * PyTorch names them, the shared layer takes its owner's shape and
 * trainability, per-layer inits stay with their layer. */
START_TEST(blocks_expand_with_torch_names)
{
    enter_root();
    struct spec s;
    struct err e;
    ck_assert_msg(load(&s, &e, "configs/blocks_ch5.yaml", NULL, 0) == 0, "%s", e.msg);
    ck_assert_int_eq(s.n_blocks, 2);
    ck_assert_int_eq(s.n_layers, 16 + 9);
    static const char *const modules[] = {"0.0.0", "0.0.1", "0.0.2", "0.0.3", "0.1.0", "0.1.1", "0.1.2", "0.1.3",
                                          "0.2.0", "0.2.1", "0.2.2", "0.2.3", "0.3.0", "0.3.1", "0.3.2", "0.3.3",
                                          "1",     "2",     "3",     "4",     "5",     "6",     "7",     "8", "9"};
    for (int i = 0; i < s.n_layers; i++)
        ck_assert_str_eq(s.layers[i].module, modules[i]);
    ck_assert_int_eq(s.layers[14].kind, LAYER_LINEAR);
    ck_assert_int_eq(s.layers[14].out, 4);
    const struct layer_spec *shared = &s.layers[20];
    ck_assert_str_eq(shared->share, "shared");
    ck_assert_int_eq(shared->owner, 18);
    ck_assert_int_eq(shared->out, 8);
    ck_assert(s.layers[22].frozen && !s.layers[18].frozen);
    ck_assert(s.layers[22].own_weight_init && !s.layers[22].own_bias_init);
    ck_assert_int_eq(s.layers[22].weight_init.kind, INIT_UNIFORM);
    ck_assert_int_eq(s.layers[23].kind, LAYER_CENTERED);
    ck_assert_int_eq(s.layers[24].bias_init.kind, INIT_CONSTANT);
    ck_assert(s.layers[24].bias_init.a == 42);
    ck_assert_int_eq(s.weight_init.kind, INIT_TORCH_DEFAULT);
    ck_assert_int_eq(spec_check_fit(&s, 4, 0, 1, &e), 0);

    /* rgnet's add_module names */
    ck_assert_msg(load(&s, &e, "configs/rgnet.yaml", NULL, 0) == 0, "%s", e.msg);
    ck_assert_str_eq(s.layers[0].module, "0.block 0.0");
    ck_assert_str_eq(s.layers[15].module, "0.block 3.3");
    ck_assert_str_eq(s.layers[16].module, "1");

    /* a shared layer that would get another input width */
    static const char wrong_width[] = "data: {dataset: synthetic_linear, w: [1, 2, 3], n_train: 10}\n"
                                      "model:\n  - linear: {out: 4, name: first}\n  - relu\n"
                                      "  - linear: {share: first}\n  - linear: {out: 1}\n"
                                      "loss: mse\noptimizer: {sgd: {lr: 0.1}}\ntrain: {epochs: 1}\n";
    ck_assert_msg(load_text(&s, &e, wrong_width) == 0, "%s", e.msg);
    ck_assert_int_eq(spec_check_fit(&s, 3, 0, 1, &e), EXIT_USAGE);
    ck_assert_str_eq(e.msg, "t.yaml:5:5: model[2].linear.share: 'first' takes 3 inputs where it is defined, but 4 "
                            "here; a shared layer needs the same shape");
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(spec_check_fit(&s, 4, 0, 1, &e), 0); /* 4 -> 4 -> 4 fits */
}
END_TEST

START_TEST(kind_names)
{
    ck_assert_str_eq(layer_kind_name(LAYER_LINEAR), "linear");
    ck_assert_str_eq(layer_kind_name(LAYER_SOFTMAX), "softmax");
    ck_assert_str_eq(layer_kind_name(LAYER_DROPOUT), "dropout");
    ck_assert_str_eq(loss_kind_name(LOSS_CROSS_ENTROPY), "cross_entropy");
    ck_assert_str_eq(loss_kind_name(LOSS_SQUARED), "squared");
    ck_assert_str_eq(loss_kind_name(LOSS_NLL), "nll");
}
END_TEST

Suite *suite_spec(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, bad_specs_give_their_messages);
    tcase_add_test(tc, linear_regression_values_and_defaults);
    tcase_add_test(tc, mlp_dropout_values);
    tcase_add_test(tc, kaggle_values);
    tcase_add_test(tc, poly_and_url_values);
    tcase_add_test(tc, written_specs_read_back_the_same);
    tcase_add_test(tc, set_overrides_take_effect);
    tcase_add_test(tc, set_errors_name_the_override);
    tcase_add_test(tc, set_reaches_list_items);
    tcase_add_test(tc, hostile_yaml_is_refused);
    tcase_add_test(tc, check_fit_matches_loss_and_width);
    tcase_add_test(tc, kind_names);
    tcase_add_test(tc, blocks_expand_with_torch_names);
    suite_add_tcase(s, tc);
    return s;
}
