/* The learning rate of each epoch under train.lr_schedule, as the
 * torch.optim.lr_scheduler classes give it when stepped once per epoch. */
#ifndef D2L_SCHEDULE_H
#define D2L_SCHEDULE_H

#include "spec.h"

/* The rate of epoch `epoch` (1-based) of `epochs`, from the base rate lr:
 * constant: lr.
 * step:     StepLR(step_size=every, gamma): lr * gamma^floor((epoch-1)/every),
 *           multiplied out one factor at a time in double as StepLR does.
 * cosine:   LinearLR(start_factor=1/warmup, total_iters=warmup-1) for the
 *           first `warmup` epochs, lr * epoch / warmup, then
 *           CosineAnnealingLR(T_max=epochs-warmup, eta_min=min_lr):
 *           min_lr + (lr - min_lr) * (1 + cos(pi * (epoch-1-warmup) / (epochs-warmup))) / 2. */
double lr_at_epoch(const struct lr_schedule_spec *l, double lr, int epoch, int epochs);

#endif
