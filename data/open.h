/* Opens the data an experiment spec names, fetching what is missing. */
#ifndef D2L_OPEN_H
#define D2L_OPEN_H

#include "../core/spec.h"
#include "dataset.h"
#include "fetch.h"

int dataset_open(const struct data_spec *d, uint64_t seed, const struct fetch_options *fo, struct data_split *out,
                 struct err *e);

#endif
