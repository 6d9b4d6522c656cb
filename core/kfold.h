/* k-fold cross-validation as d2l's get_k_fold_data: k contiguous folds of
 * n / k rows (the remainder is left out), optionally after a seeded shuffle;
 * a fresh model per fold; folds trained concurrently. */
#ifndef D2L_KFOLD_H
#define D2L_KFOLD_H

#include "train.h"

/* How a fold's training ended: train_stop_requested (SIGINT) starts no new
 * fold and stops those training, which then did not finish. */
enum fold_state { FOLD_NOT_STARTED, FOLD_INTERRUPTED, FOLD_FINISHED };

struct fold_result {
    enum fold_state state;
    double train_metric, valid_metric, seconds; /* a finished fold's */
    struct epoch_report *epochs; /* room for s->epochs */
    int n_epochs;                /* of them trained (early stopping ends sooner) */
};

/* Rows of fold `fold` go to valid, the other folds' rows to train (copies).
 * order is the row order (NULL: 0..n-1). */
int kfold_split(const struct dataset *all, int k, int fold, const int32_t *order, struct dataset *train,
                struct dataset *valid, struct err *e);

/* The metric a fold reports: the spec's kfold.metric, else accuracy for
 * classification, log_rmse for tabular regression (d2l 4.10) and loss for
 * other regression. */
enum kfold_metric kfold_metric_of(const struct spec *s, const struct dataset *all);

/* Refuses, before any training, a metric the data cannot give: accuracy
 * without classes, log_rmse with classes (exit 2, naming kfold.metric),
 * log_rmse of a label that is not positive (exit 3 naming FILE:LINE for
 * a file's value, exit 2 for generated data). kfold_run calls it. */
int kfold_check_metric(const struct spec *s, const struct dataset *all, struct err *e);

/* Trains all folds on `be`: side by side on min(threads, k) worker threads,
 * each worker's GEMMs on threads / workers, where be->shared_by_threads
 * (the CPU); else (a GPU) one after another on the calling thread. In an
 * MPI job (core/comm.h) rank r trains folds r, r + size, ... the same way
 * and rank 0 receives every fold's result; a failure on any rank fails
 * every rank. After train_stop_requested no fold starts and the training
 * ones stop as train_model does; the ranks agree on it after training (a
 * stop on one sets it on all). results has k entries, freed with
 * kfold_results_free. */
int kfold_run(const struct spec *s, struct backend *be, const struct dataset *all, int threads,
              struct fold_result *results, struct err *e);
void kfold_results_free(struct fold_result *results, int k);

#endif
