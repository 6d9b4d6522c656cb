/* A model as PyTorch shows it: the module tree as print(net) prints the
 * same nn.Sequential, then the parameters as named_parameters() lists
 * them, with their shapes and counts. */
#ifndef D2L_MODEL_PRINT_H
#define D2L_MODEL_PRINT_H

#include <stdio.h>

#include "model.h"

void model_print_tree(FILE *f, const struct model *m);
void model_print_parameters(FILE *f, const struct model *m);

#endif
