/* How results are shown: the greppable epoch line on stdout and the JSON
 * line per epoch in metrics.jsonl. */
#ifndef D2L_REPORT_H
#define D2L_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "train.h"

/* The metrics of an epoch report in printing order, by their JSON names. */
struct report_field {
    const char *name;
    size_t offset; /* of the double in struct epoch_report */
};
enum { REPORT_METRICS = 6 };
extern const struct report_field report_metrics[REPORT_METRICS];

/* The metrics of r that apply (not NAN), in that order, with their values. */
struct report_metric {
    const char *name;
    double value;
};
int report_metrics_of(const struct epoch_report *r, struct report_metric out[REPORT_METRICS]);

/* What is printed holds finite numbers only, or the command fails: each
 * printing function returns -1 when it printed an inf or a NaN, and its
 * caller then exits non-zero (train_model already stops on a metric that
 * is not finite; this keeps the rule where numbers are shown). */

/* "epoch 3/10 loss 0.5246 train_acc 0.8161 test_acc 0.8140 time 0.012s";
 * metrics that are NAN (do not apply) are left out. */
int report_epoch_line(FILE *f, const struct epoch_report *r, const char *prefix);

/* "fold 2/5 train_log_rmse 0.162 valid_log_rmse 0.170 time 1.2345s" */
int report_fold_line(FILE *f, int fold, int k, const char *metric, double train, double valid, double seconds);

/* "5-fold validation: avg train_log_rmse 0.165, avg valid_log_rmse 0.171",
 * the sums over `finished` folds; fewer than k (interrupted) adds
 * " (2 of 5 folds finished)" before the colon. */
int report_folds_average(FILE *f, int finished, int k, const char *metric, double train_sum, double valid_sum);

/* A time in seconds with its "s": tenths of a millisecond (a GPU epoch
 * takes ~15 ms), and below 1 ms two significant digits at least, so that
 * a 42 us epoch reads 0.000042s rather than 0.0000s. */
void report_seconds(FILE *f, double seconds);

/* A metric's value: `decimals` fixed decimals, or 4 significant digits
 * below 1e-3 where fixed decimals would print 2.9e-6 as 0.000003. */
void report_metric(FILE *f, double value, int decimals);

/* One line of JSON: the object o (jansson's json_t, taken: freed here;
 * NULL, as a failed build gives, is an error), compact, keys in order; -1
 * when it cannot be encoded. */
struct json_t;
int report_json_line(FILE *f, struct json_t *o);

/* One JSON object; fold < 0 leaves the fold out. */
int report_epoch_json(FILE *f, const struct epoch_report *r, int fold);

/* The inverse for run's lines (no fold): the JSON object text[0..len)
 * into *r (epochs 0, penalty NAN: the line has neither); -1 when it is
 * not such a line. JSON numbers are written so that they read back
 * exactly, so a line read and written again is the same line. */
int report_epoch_from_json(struct epoch_report *r, const char *text, size_t len);

#endif
