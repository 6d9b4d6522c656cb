/* Opens the data an experiment spec names, fetching what is missing: the
 * one place where the spec's data section meets data/'s readers, which
 * know nothing of the spec. */
#ifndef D2L_DATA_OPEN_H
#define D2L_DATA_OPEN_H

#include "../data/dataset.h"
#include "../data/fetch.h"
#include "spec.h"

int dataset_open(const struct data_spec *d, uint64_t seed, const struct fetch_options *fo, struct data_split *out,
                 struct err *e);

#endif
