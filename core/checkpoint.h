/* Model parameters as safetensors (loadable by PyTorch's safetensors):
 * tensor names follow nn.Sequential's state_dict ("1.weight", "1.bias"). */
#ifndef D2L_CHECKPOINT_H
#define D2L_CHECKPOINT_H

#include <stdio.h>

#include "model.h"

int checkpoint_write(FILE *f, const struct model *m, const float *params, struct err *e);

/* Reads the parameters of m (host memory, m->n_params floats) from the
 * safetensors file at path. The file must hold exactly m's tensors, F32,
 * with m's shapes; anything else is EXIT_DATA naming the file, the tensor
 * and what differs. */
int checkpoint_read(const char *path, const struct model *m, float *params, struct err *e);

#endif
