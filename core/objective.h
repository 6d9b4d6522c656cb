/* The training objective and the parameter update, as the spec sets them. */
#ifndef D2L_OBJECTIVE_H
#define D2L_OBJECTIVE_H

#include "model.h"

/* Adds the loss of `rows` rows (and accuracy, for classification) into
 * acc; with with_grad, writes d(mean loss)/d(output) into m->dout, the mean
 * over batch_rows: rows itself, or the global batch a data-parallel rank's
 * rows are a slice of (the ranks' gradients then sum to the batch's). */
void loss_apply(struct model *m, const struct loss_spec *loss, double *acc, const float *out, const float *y,
                int rows, int batch_rows, bool with_grad);

/* Adds the spec's explicit penalty on weights (not biases) times grad_scale
 * to the gradient (1; on data-parallel ranks other than 0, 0: the summed
 * gradient has it once) and its value per row, for `rows` rows, to
 * acc[ACC_PENALTY]. */
void penalty_apply(struct model *m, const struct penalty_spec *pen, double *acc, int rows, float grad_scale);

/* Scales the trainable gradients so that their norm together is at most
 * max_norm; *sq_norm (device) is left holding the squared norm before. */
void clip_grads(struct model *m, double max_norm, double *sq_norm);

/* One optimizer step over all parameters at learning rate *lr (device
 * memory); t = *step + 1. */
void optim_step(struct model *m, const struct optim_spec *o, const float *lr, const uint64_t *step);

#endif
