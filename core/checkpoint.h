/* Model parameters as safetensors (loadable by PyTorch's safetensors):
 * tensor names follow nn.Sequential's state_dict ("1.weight", "1.bias"). */
#ifndef D2L_CHECKPOINT_H
#define D2L_CHECKPOINT_H

#include <stdio.h>

#include "model.h"

int checkpoint_write(FILE *f, const struct model *m, const float *params, struct err *e);

#endif
