/* Model parameters as safetensors (loadable by PyTorch's safetensors):
 * tensor names are the state_dict's of the same nn.Sequential tree
 * ("0.1.weight"). A tied tensor is written once, under its first use's
 * name (as safetensors' save_model); reading takes it under any of its
 * names, or all of them (state_dict's form) when they hold the same values. */
#ifndef D2L_CHECKPOINT_H
#define D2L_CHECKPOINT_H

#include <jansson.h>
#include <stdio.h>

#include "model.h"

int checkpoint_write(FILE *f, const struct model *m, const float *params, struct err *e);

/* The safetensors header (size, JSON padded to 8 bytes) for the tensors
 * that follow; takes header (NULL: out of memory, an error). */
int checkpoint_write_header(FILE *f, json_t *header, struct err *e);

/* Reads the parameters of m (host memory, m->n_params floats) from the
 * safetensors file at path (load_state_dict): every tensor of m must be
 * there with m's shape, and nothing else; otherwise one EXIT_DATA message
 * naming the file and every missing, extra and mis-shaped tensor. */
int checkpoint_read(const char *path, const struct model *m, float *params, struct err *e);

#endif
