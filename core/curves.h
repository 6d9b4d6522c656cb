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
    int run;            /* which run it is of: an index into curves_draw's run_names (0 for a single run) */
    const char *metric; /* loss, train_acc, test_loss, test_acc, train_log_rmse, valid_log_rmse, ... */
    const double *y;    /* y[i] at epoch i + 1; NAN where there is none */
    const double *lo, *hi; /* NULL, or a band around y (mean ± std over seeds); NAN where none */
    int n;
};

enum { CURVES_MAX = 64 };

/* Losses, accuracies (names ending in "acc") and log-RMSEs each get a panel;
 * accuracies share the losses' panel when the losses stay below 1.5 on a
 * linear axis (d2l's train_ch3 plot), log-RMSEs when both fit on one log
 * axis of three decades. A panel is logarithmic when `scale` says so
 * (never for accuracies), or under Y_SCALE_AUTO for log-RMSE, for the loss
 * of a regression (no accuracy drawn) and for values spanning two decades.
 * A metric's line style: train metrics solid, test and validation ones
 * dashed, train accuracy dotted, test accuracy dash-dotted; a metric whose
 * style another in its panel has already takes a free one (long dash,
 * dash-dot-dot, ...). With run_names (one per run) every run has a
 * colour of its own (tab10, then the colours again with a marker shape
 * along the line, so that no two runs look alike), and the legend names
 * the runs, then the metrics with their line styles; without (NULL: one
 * run) every metric has a colour of its own and the legend names the
 * metrics. At most CURVES_MAX curves. */
void curves_draw(FILE *f, const char *title, const char *const *run_names, const struct curve *c, int n,
                 enum y_scale scale);

/* The metrics of one run's epochs (those not NAN); -1 when out of memory. */
int curves_write_svg(FILE *f, const struct epoch_report *epochs, int n, const char *title, enum y_scale scale);

/* Several runs' metrics overlaid, each run in a colour of its own, named
 * in the legend by its name; `only` (when not NULL) draws that metric
 * alone. A run with `std` (a seed group: `epochs` the mean over its seeds)
 * has a band of mean ± std around each line. Curves past CURVES_MAX are
 * left out: the caller chooses what to draw. -1 when out of memory. */
struct curves_run {
    const char *name;
    const struct epoch_report *epochs;
    const struct epoch_report *std; /* NULL, or [n]: the standard deviation of each metric of epochs */
    int n;
};
int curves_write_runs_svg(FILE *f, const struct curves_run *runs, int n_runs, const char *only, const char *title,
                          enum y_scale scale);

#endif
