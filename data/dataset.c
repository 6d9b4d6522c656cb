#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dataset_free(struct dataset *ds)
{
    free(ds->x);
    free(ds->y);
    free(ds->ids);
    free(ds->source);
    free(ds->lines);
    memset(ds, 0, sizeof *ds);
}

void data_split_free(struct data_split *s)
{
    dataset_free(&s->train);
    dataset_free(&s->test);
}

size_t dataset_first_nonpositive_label(const struct dataset *ds)
{
    if (!ds->y)
        return ds->n;
    for (size_t i = 0; i < ds->n; i++)
        for (int j = 0; j < ds->y_width; j++)
            if (!(ds->y[i * (size_t)ds->y_width + (size_t)j] > 0))
                return i;
    return ds->n;
}

void dataset_row_origin(const struct dataset *ds, size_t row, char *buf, size_t cap)
{
    if (ds->source && ds->lines)
        snprintf(buf, cap, "%s:%zu", ds->source, ds->lines[row]);
    else
        snprintf(buf, cap, "row %zu", row + 1);
}
