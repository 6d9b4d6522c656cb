/* A spec of a CSV dataset of its own (url + sha1, file:// URLs) in the
 * test's scratch directory (tests/tmpdir.h). */
#ifndef D2L_TEST_URL_SPEC_H
#define D2L_TEST_URL_SPEC_H

/* Writes train.csv (and test.csv when test_csv is not NULL: labelled),
 * and spec.yaml: dataset "finite" (cached as finite.csv), label y, id Id,
 * no standardizing, linear(1), mse, SGD 0.1, 2 epochs, kfold k 2 plus
 * `extra` inside the kfold mapping (", metric: loss"). Returns the spec's
 * path (valid until the next call). */
const char *tmp_url_spec(const char *train_csv, const char *test_csv, const char *extra);

#endif
