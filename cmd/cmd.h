/* Subcommands: each takes argv with argv[0] its own name and returns the
 * process exit code. */
#ifndef D2L_CMD_H
#define D2L_CMD_H

#include "../core/backend.h"
#include "../core/curves.h"
#include "../core/model.h"
#include "../core/outfile.h"
#include "../core/spec.h"
#include "../core/train.h"
#include "../data/dataset.h"
#include "../data/fetch.h"

#define D2LTRAIN_VERSION "0.1.0"
#define MAX_SETS 64

int cmd_run(int argc, char **argv);
int cmd_kfold(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

/* Options shared by run, kfold and predict. */
struct run_options {
    const char *spec_path;
    const char *device; /* NULL: the spec's */
    const char *sets[MAX_SETS];
    int n_sets;
    const char *out_dir;
    const char *checkpoint; /* predict only */
    /* run only: */
    const char *init_from;           /* --init-from FILE: start from a checkpoint */
    const char *resume;              /* --resume DIR: continue the run whose --out was DIR */
    const char *freeze[MAX_SETS];    /* --freeze GLOB: parameter names kept fixed */
    int n_freeze;
    bool print_model;                /* --print-model: the module tree and parameters, no training */
    bool data_parallel;              /* --data-parallel: one model over the ranks of an MPI job */
    int images;             /* predict --images N: draw the first N test images... */
    const char *image_file; /* ...into -o FILE.svg */
    bool verbose;           /* kfold --verbose: every fold's epoch lines */
    enum y_scale y_scale;   /* run, kfold --log-y / --linear-y: curves.svg's y axis */
    const char *grids[MAX_SETS]; /* sweep --grid KEY=V1,V2,... */
    int n_grids;
    const char *points_file;     /* sweep --points FILE.yaml */
    const char *rank_by;         /* sweep --rank-by METRIC, NULL: by the data */
    int threads;    /* --threads: the CPU threads to use, default the cores available */
    bool timing;    /* --timing: where the time went, on stderr */
    double started; /* clock_seconds() when the command began, for --timing */
    struct fetch_options fetch;
};

/* Options only some commands take. */
enum { TAKES_CHECKPOINT = 1, TAKES_MODEL_OPTIONS = 2 /* --init-from, --freeze, --print-model, --data-parallel */,
       TAKES_IMAGES = 4 /* --images N, -o FILE */, TAKES_VERBOSE = 8,
       TAKES_Y_SCALE = 16 /* --log-y, --linear-y */,
       TAKES_SWEEP = 32 /* --grid, --points, --rank-by */ };

/* Parses `SPEC [--device D] [--set k=v]... [--out DIR] [--data-dir DIR]
 * [--cacert FILE] [--mirror URL] [--threads N] [--quiet] [--timing]`, and
 * the options of `takes` (TAKES_*). Returns -1 to go on, or the command's
 * exit status: 0 after printing usage for --help, 2 after reporting a
 * usage error. */
int parse_run_options(struct run_options *o, int argc, char **argv, const char *usage, unsigned takes);

/* An experiment ready to train: spec, data, backend. */
struct experiment {
    struct spec spec;
    struct data_split data;
    struct backend *be;
    double data_seconds, device_seconds; /* loaded side by side */
};

/* The state `run --resume` continues from (cmd/resume.c): on the host,
 * params then opt_m then opt_v, n_params each, at `at`, and early
 * stopping's best epoch (epoch 0: none; its params follow opt_v). */
struct resume_state {
    struct train_position at;
    struct best_epoch best;
    float *params;
};
/* m's state at `at` and, when best is not NULL, its best epoch. */
int resume_snapshot(struct resume_state *r, const struct model *m, const struct train_position *at,
                    const struct best_epoch *best, struct err *e);
void resume_free(struct resume_state *r);
/* resume.safetensors: the state as flat tensors params, opt_m, opt_v, epoch,
 * and the position within the next epoch in __metadata__. */
int resume_write(FILE *f, const struct resume_state *r, size_t n, struct err *e);
/* Puts DIR/resume.safetensors into m (device) and gives the position it
 * holds (`steps`: the spec's steps per epoch, which a step must be below)
 * and, when best is not NULL (its params hold n_params floats), early
 * stopping's best epoch (left as it is when the state has none); EXIT_DATA
 * when it does not fit m. */
int resume_load(const char *dir, struct model *m, long steps, struct train_position *at, struct best_epoch *best,
                struct err *e);
/* The reports of epochs 1..n from DIR/metrics.jsonl, into out[0..n);
 * EXIT_DATA when it does not hold them (lines after them are ignored). */
int resume_read_metrics(const char *dir, int n, struct epoch_report *out, struct err *e);

/* cmd/run.c, shared with sweep: whether tabular regression data reports
 * d2l's log-RMSE (every label positive; else a notice on stderr)... */
bool run_reports_log_rmse(const struct data_split *d);
/* ...and the files `run --out` writes: metrics.jsonl and curves.svg of the
 * epochs, config.yaml, model.safetensors of params (host),
 * resume.safetensors when resume holds a state and, with predictions, the
 * unlabelled test set's submission.csv. */
struct run_files {
    const struct spec *spec;
    const struct dataset *test;
    struct model *m;
    const float *params;
    const struct epoch_report *epochs; /* epochs 1..n_epochs */
    int n_epochs;
    enum y_scale y_scale;
    const struct resume_state *resume; /* NULL: none */
    bool predictions;
};
int run_write_outputs(const struct outset *set, const struct run_files *f, struct err *e);

/* The spec's report items after training (cmd/summary.c); params on the host. */
void print_report(const struct spec *s, const struct model *m, const float *params);

int experiment_open(struct experiment *x, const struct run_options *o, struct err *e);
/* train.checkpoint_every is kept by `run --out` alone: where a command
 * would ignore a nonzero one, a notice on stderr (rank 0) says why. */
void notice_checkpoints_unkept(int checkpoint_every, const char *why);
void experiment_close(struct experiment *x);

/* The --timing line on stderr: data, device, the command's own work
 * (training, folds) and the total since `started` (clock_seconds()). */
void experiment_print_timing(const struct experiment *x, const char *work, double work_seconds, double started);

/* cmd/predictions.c: what a trained model says about x's test set. */
struct model;
/* d2l's predict_ch3 line: the first test examples' true and predicted
 * class names (classifiers with named classes and labels only), from the
 * outputs [n, width] for test's rows... */
void print_predicted_labels(const struct dataset *test, const float *out, int width);
/* ...or, for run, which has none, computed for the shown rows alone. */
int print_first_predictions(const struct experiment *x, struct model *m, struct err *e);
/* Outputs of m for every row of test, [n, out_width], malloc'd; NULL after
 * setting *e. */
float *predict_test_set(struct model *m, const struct dataset *test, struct err *e);
/* submission.csv in the output set, Kaggle's Id,SalePrice (the row number
 * without ids), from outputs [n, width] of an unlabelled test set. */
int write_submission(const struct outset *set, const struct dataset *test, const float *out, int width,
                     struct err *e);
/* predictions.csv in the output set: row,predicted,true from outputs
 * [n, width] of a labelled test set. */
int write_predictions_csv(const struct outset *set, const struct dataset *test, const float *out, int width,
                          struct err *e);
/* "test_acc A (N examples)", "test_rmse R (N examples)" or, without labels,
 * how many predictions were made. */
void print_test_metric(const struct dataset *test, const float *out, int width);

/* cmd/show.c: the first n images of ds in a grid, captioned with their
 * labels, or, given the model's outputs [n, width], "true" over
 * "predicted", wrong ones in red; into the file `path`. A dataset that is
 * not labelled images is EXIT_USAGE naming `dataset`. */
int draw_images(const char *path, const char *dataset, const char *title, const struct dataset *ds, int n,
                const float *out, int width, struct err *e);
/* -n / --images: 1 to 1000. */
int parse_image_count(const char *v, int *n, struct err *e);

/* Prints "d2ltrain: error: MSG" and returns the code. */
int report_error(const struct err *e);

#endif
