#include "dataset.h"

#include <stdlib.h>
#include <string.h>

void dataset_free(struct dataset *ds)
{
    free(ds->x);
    free(ds->y);
    free(ds->ids);
    memset(ds, 0, sizeof *ds);
}

void data_split_free(struct data_split *s)
{
    dataset_free(&s->train);
    dataset_free(&s->test);
}
