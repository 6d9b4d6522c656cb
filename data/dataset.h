/* A dataset in host memory: n rows of d features (uint8 pixels or float32)
 * and a target per row. Classification targets are class indices stored as
 * floats so that one gather serves both kinds. */
#ifndef D2L_DATASET_H
#define D2L_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"
#include "raw_cache.h"

enum x_type { X_U8, X_F32 };

struct dataset {
    size_t n, d;
    enum x_type x_type;
    void *x;       /* n * d, uint8_t or float */
    float x_scale; /* multiplies uint8 features (1/255 as ToTensor) */
    float *y;      /* n * y_width; NULL for an unlabelled test set */
    int y_width;
    int n_classes; /* 0: regression */
    const char *const *class_names;
    int32_t *ids;  /* row ids kept for output (Kaggle submission), or NULL */
    char *source;  /* the file the rows were read from, or NULL (synthetic, IDX) */
    size_t *lines; /* with source: the line each row starts on, for messages */
};

/* Train and (optional, n == 0 when absent) test split of one experiment. */
struct data_split {
    struct dataset train, test;
    int raw_cache_uses[RAW_CACHE_USES]; /* compressed files read, by what became of their raw cache */
};

void dataset_free(struct dataset *ds);

/* The first row whose label is not positive (<= 0), or ds->n when every
 * label is positive or there are none. */
size_t dataset_first_nonpositive_label(const struct dataset *ds);

/* Where row `row` came from: "FILE:LINE", or "row N" (1-based) for data
 * made in memory. */
void dataset_row_origin(const struct dataset *ds, size_t row, char *buf, size_t cap);
void data_split_free(struct data_split *s);

#endif
