/* Tabular preprocessing of a train (and optional test) CSV as d2l 4.10 does
 * it with pandas 2.x:
 *   all_features = concat(train minus id and label, test minus id)
 *   numeric columns: (x - mean) / std (sample std, stats over train+test),
 *                    then missing -> 0
 *   other columns:   one-hot like pd.get_dummies(dummy_na=True): appended
 *                    after the numeric columns, categories in sorted order,
 *                    then COL_nan
 * Missing means one of pandas' default na_values ("", "NA", "None", ...).
 * See docs/KAGGLE.md. */
#ifndef D2L_TABULAR_H
#define D2L_TABULAR_H

#include <stdbool.h>

#include "dataset.h"
#include "preprocess.h"

/* The feature columns as pandas names them ("LotArea", "MSZoning_RL",
 * "Alley_nan"). */
struct tabular_info {
    int n_features;
    int n_numeric; /* the first n_numeric features are the numeric columns */
    char **names;
};

/* out->train: X_F32 [n, d], y the label column (y_width 1), ids the id
 * column (when p->id_column is set), n_classes 0. out->test likewise, with
 * y NULL unless the test file has the label column too; n == 0 without a
 * test file. info may be NULL. Errors are EXIT_DATA and name the file (and
 * line / column); *out and *info are left zeroed. */
int tabular_load_info(const char *train_csv, const char *test_csv,
                      const struct preprocess_spec *p, struct data_split *out,
                      struct tabular_info *info, struct err *e);

static inline int tabular_load(const char *train_csv, const char *test_csv,
                               const struct preprocess_spec *p, struct data_split *out,
                               struct err *e)
{
    return tabular_load_info(train_csv, test_csv, p, out, NULL, e);
}

void tabular_info_free(struct tabular_info *info);

/* Whether a cell is one of pandas 2's default missing-value strings; with
 * none_is_value, pandas 1's (the same without "None"). */
int tabular_is_missing(const char *cell, bool none_is_value);

#endif
