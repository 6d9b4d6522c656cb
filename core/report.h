/* How results are shown: the greppable epoch line on stdout and the JSON
 * line per epoch in metrics.jsonl. */
#ifndef D2L_REPORT_H
#define D2L_REPORT_H

#include <stdio.h>

#include "train.h"

/* "epoch 3/10 loss 0.5246 train_acc 0.8161 test_acc 0.8140 time 0.012s";
 * metrics that are NAN are left out. */
void report_epoch_line(FILE *f, const struct epoch_report *r, const char *prefix);

/* A metric's value: `decimals` fixed decimals, or 4 significant digits
 * below 1e-3 where fixed decimals would print 2.9e-6 as 0.000003. */
void report_metric(FILE *f, double value, int decimals);

/* One JSON object; fold < 0 leaves the fold out. */
int report_epoch_json(FILE *f, const struct epoch_report *r, int fold);

#endif
