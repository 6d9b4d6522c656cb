/* Tabular preprocessing of a CSV dataset (d2l 4.10), as the spec's
 * data.preprocess says it: what data/tabular.c needs of the spec. */
#ifndef D2L_PREPROCESS_H
#define D2L_PREPROCESS_H

#include <stdbool.h>

#define PREPROCESS_COLUMN_LEN 128 /* a column name and its NUL */

struct preprocess_spec {
    char id_column[PREPROCESS_COLUMN_LEN];    /* dropped; "" keeps every column */
    char label_column[PREPROCESS_COLUMN_LEN]; /* the target, kept apart */
    bool standardize;                         /* numeric columns: (x - mean) / std, default true */
    bool stats_from_train_only;               /* default false: train+test together, as d2l */
    bool dummy_na;                            /* one-hot gets a column for missing, default true */
    bool none_is_value;                       /* missing_strings: pandas1: "None" is a category (pandas < 2.0) */
};

#endif
