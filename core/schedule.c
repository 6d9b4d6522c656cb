#include "schedule.h"

#include <math.h>

double lr_at_epoch(const struct lr_schedule_spec *l, double lr, int epoch, int epochs)
{
    int done = epoch - 1; /* the scheduler's last_epoch: steps taken before this epoch */
    switch (l->kind) {
    case LR_CONSTANT:
        return lr;
    case LR_STEP:
        for (int k = l->every; k <= done; k += l->every)
            lr *= l->gamma;
        return lr;
    case LR_COSINE:
        if (done < l->warmup)
            return lr * (done + 1) / l->warmup;
        return l->min_lr + (lr - l->min_lr) * (1 + cos(M_PI * (done - l->warmup) / (epochs - l->warmup))) / 2;
    }
    return lr;
}
