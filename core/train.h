/* The epoch loop: data uploaded once, batches gathered on the device by a
 * permutation drawn from the shared RNG, metrics accumulated on the device
 * and read once per epoch. */
#ifndef D2L_TRAIN_H
#define D2L_TRAIN_H

#include "../data/dataset.h"
#include "model.h"

#include <signal.h>

/* One epoch's numbers; NAN where a metric does not apply. */
struct epoch_report {
    int epoch, epochs;
    double loss;       /* classification: running mean over the epoch (d2l's train_ch3);
                          regression: mean over the training set after the epoch (d2l 3.2) */
    double train_acc, test_acc;
    double test_loss;
    double train_log_rmse, test_log_rmse;
    double penalty;    /* mean explicit penalty over the epoch */
    double seconds;
    double steps_seconds; /* of seconds, until the training steps' metrics were read; the rest is evaluation */
};

/* d2l 4.10 adds the log RMSE for tabular regression (house prices): real
 * targets read from a CSV with an id column. */
bool train_is_tabular_regression(const struct dataset *train);

typedef void (*epoch_fn)(const struct epoch_report *r, void *arg);

/* Set (by a SIGINT handler) to end training: on a backend that runs the
 * epoch's steps one by one (the CPU; a GPU with D2L_CUDA_GRAPHS=0) after
 * the current step, on one that replays the epoch as a recorded graph
 * after the current epoch. */
extern volatile sig_atomic_t train_stop_requested;
/* Makes SIGINT (Ctrl-C) set train_stop_requested. The test hook
 * D2L_TEST_SIGINT_AT_STEP=N raises SIGINT after the N-th training step the
 * process takes, over every model it trains (kfold's folds with --threads 1
 * one after another). */
void train_stop_on_sigint(void);

/* A point between two training steps: `epoch` epochs done and `step`
 * steps of the next one, with that epoch's metric sums so far (the
 * accumulator slots, enum acc_slot). With the parameters and the optimizer
 * state it is all a run needs to go on exactly: the step counter and the
 * shuffle follow from it. */
struct train_position {
    int epoch;
    long step;
    double acc[ACC_SLOTS];
};

/* Early stopping's best epoch so far (0: none yet), its metric (lower is
 * better: an accuracy negated) and its parameters (host memory). */
struct best_epoch {
    int epoch;
    double value;
    float *params;
};

/* Where training starts and how it ended. */
struct train_summary {
    struct train_position start; /* in: resume here (m already holds that point's parameters and
                                    optimizer state); all zero: from the start */
    struct best_epoch best;      /* in: a resumed run's; kept up to date while training, so that an
                                    epoch callback that holds the summary can save it. params: n_params
                                    floats the caller owns, or NULL (train_model uses its own) */
    bool data_parallel;          /* in: every rank of the MPI job (core/comm.h) trains this one model
                                    on its slice of each batch, the gradients summed before each
                                    update; the epoch metrics are every rank's, the evaluation each
                                    rank's own over the whole set (the same numbers on every rank);
                                    a stop request ends it at an epoch's end */
    bool interrupted;            /* out: train_stop_requested ended it at `stop` */
    struct train_position stop;
    int epochs_run;
    bool stopped_early;  /* train.early_stop ran out of patience */
    int restored_epoch;  /* early stopping put back this epoch's parameters; 0 none */
    double best_value;   /* the early-stop metric at restored_epoch */
};

/* Training steps in one epoch of `rows` rows. */
long train_steps_per_epoch(size_t rows, int batch_size);

/* Trains m on train for s->epochs, evaluating on test when it has labels,
 * with the spec's learning-rate schedule, clipping and early stopping
 * (which leaves m with the parameters of the best epoch, unless
 * train_stop_requested interrupted it: a resume goes on from where it
 * was; sum, when not
 * NULL, says how it ended). log_rmse adds d2l's log-RMSE on both sets (the
 * labels must be positive). A non-finite loss stops with EXIT_RUNTIME
 * naming the epoch and step; any other metric that is not finite, naming
 * the epoch and the metric, so no report ever holds an inf or a NaN that
 * stands for a value. */
int train_model(struct model *m, const struct spec *s, const struct dataset *train, const struct dataset *test,
                bool log_rmse, epoch_fn on_epoch, void *arg, struct train_summary *sum, struct err *e);

/* Outputs of m (eval mode) for every row of ds, into host memory
 * [ds->n, m->out_width]. */
int model_predict(struct model *m, const struct dataset *ds, float *out, struct err *e);

/* Writes a permutation of 0..n-1 for (seed, epoch): Fisher-Yates on Philox. */
void shuffle_indices(int32_t *idx, size_t n, uint64_t seed, uint64_t epoch);

#endif
