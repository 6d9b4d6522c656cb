/* curves.svg: the per-epoch metrics drawn as lines, like d2l's Animator. */
#ifndef D2L_CURVES_H
#define D2L_CURVES_H

#include <stdio.h>

#include "train.h"

/* Draws every metric that has values (loss, accuracies, log rmse) against
 * the epoch, on one axis from 0 to the largest value (at least 1). */
void curves_write_svg(FILE *f, const struct epoch_report *epochs, int n, const char *title);

#endif
