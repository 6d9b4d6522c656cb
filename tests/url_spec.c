#include "url_spec.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../data/hash.h"
#include "tmpdir.h"

const char *tmp_url_spec(const char *train_csv, const char *test_csv, const char *extra)
{
    const char *train = tmp_write("train.csv", train_csv, strlen(train_csv));
    struct digests train_sha, test_sha;
    struct err e = {0};
    ck_assert_msg(hash_file(train, &train_sha, &e) == 0, "%s", e.msg);
    char test_keys[512] = "";
    if (test_csv) {
        const char *test = tmp_write("test.csv", test_csv, strlen(test_csv));
        ck_assert_msg(hash_file(test, &test_sha, &e) == 0, "%s", e.msg);
        snprintf(test_keys, sizeof test_keys, "  test_url: file://%s\n  test_sha1: %s\n", test, test_sha.sha1);
    }
    char yaml[2048];
    int len = snprintf(yaml, sizeof yaml,
                       "name: finite\ndata:\n  dataset: finite\n  url: file://%s\n  sha1: %s\n%s  batch_size: 2\n"
                       "  preprocess: {label: y, id_column: Id, standardize: false}\n"
                       "model:\n  - linear: {out: 1}\nloss: mse\noptimizer:\n  sgd: {lr: 0.1}\n"
                       "train: {epochs: 2}\nkfold: {k: 2%s}\n",
                       train, train_sha.sha1, test_keys, extra);
    static char path[256]; /* tmp_path's buffers rotate: the caller keeps this one */
    snprintf(path, sizeof path, "%s", tmp_write("spec.yaml", yaml, (size_t)len));
    return path;
}
