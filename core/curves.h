/* Training curves (curves.svg, d2ltrain plot): metrics against the epoch,
 * grouped into panels by what they measure. */
#ifndef D2L_CURVES_H
#define D2L_CURVES_H

#include <stdio.h>

#include "error.h"
#include "train.h"

enum y_scale { Y_SCALE_AUTO, Y_SCALE_LOG, Y_SCALE_LINEAR };

/* --log-y or --linear-y (`wanted`) into *scale: EXIT_USAGE when the other
 * one was given. */
int y_scale_choose(enum y_scale *scale, enum y_scale wanted, struct err *e);

struct curve {
    const char *run;    /* shown before the metric in the legend; NULL for a single run */
    const char *metric; /* loss, train_acc, test_loss, test_acc, train_log_rmse, valid_log_rmse, ... */
    const double *y;    /* y[i] at epoch i + 1; NAN where there is none */
    int n;
};

enum { CURVES_MAX = 64 };

/* Losses, accuracies (names ending in "acc") and log-RMSEs each get a panel;
 * accuracies share the losses' panel when the losses stay below 1.5 on a
 * linear axis (d2l's train_ch3 plot), log-RMSEs when both fit on one log
 * axis of three decades. A panel is logarithmic when `scale` says so
 * (never for accuracies), or under Y_SCALE_AUTO for log-RMSE, for the loss
 * of a regression (no accuracy drawn) and for values spanning two decades.
 * Test and validation metrics are dashed. At most CURVES_MAX curves. */
void curves_draw(FILE *f, const char *title, const struct curve *c, int n, enum y_scale scale);

/* The metrics of one run's epochs (those not NAN); -1 when out of memory. */
int curves_write_svg(FILE *f, const struct epoch_report *epochs, int n, const char *title, enum y_scale scale);

/* Several runs' metrics overlaid, each curve named by its run's name;
 * `only` (when not NULL) draws that metric alone. Curves past CURVES_MAX
 * are left out: the caller chooses what to draw. -1 when out of memory. */
struct curves_run {
    const char *name;
    const struct epoch_report *epochs;
    int n;
};
int curves_write_runs_svg(FILE *f, const struct curves_run *runs, int n_runs, const char *only, const char *title,
                          enum y_scale scale);

#endif
