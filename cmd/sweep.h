/* d2ltrain sweep: points, each a list of --set overrides, trained as `run`
 * trains one spec. The point list is fixed before anything trains and its
 * indices are stable, so the points can be split among workers (threads
 * here; MPI ranks: point i to rank i % size) and the results, one plain
 * struct per point, printed and written from the whole array at the end. */
#ifndef D2L_SWEEP_H
#define D2L_SWEEP_H

#include "../core/outfile.h"
#include "cmd.h"

enum { SWEEP_MAX_KEYS = 32, SWEEP_MAX_POINTS = 4096, SWEEP_NAME_MAX = 160 };

struct sweep_point {
    const char **values; /* [n_keys]: this point's value of each key, NULL where it sets none */
    const char **sets;   /* the --sets: the command's, then "key=value" for each key it sets */
    int n_sets;
    char label[1024];    /* "optimizer.sgd.lr=0.1 init.weight.normal.std=0.01", for lines and errors */
    char name[SWEEP_NAME_MAX + 16]; /* its directory under --out: lr=0.1,std=0.01, unique */
    const char *from;    /* "FILE:LINE:COL" of its --points entry, or NULL */
    int group;           /* points equal but for their seed share a group */
};

struct sweep {
    char *keys[SWEEP_MAX_KEYS]; /* the keys points set, --points' first, then the --grid axes' */
    int n_keys;
    int seed_key;               /* the index of "seed" in keys, -1 without */
    struct sweep_point *points;
    int n_points, n_groups;
    char **owned; /* strings the points point into */
    int n_owned, cap_owned;
};

/* The points: each --points entry (or one empty point without --points)
 * crossed with the cartesian product of the --grid axes "KEY=V1,V2,..."
 * (the first axis outermost; values split at commas outside brackets and
 * quotes, so [0.9,0.99],[0.8,0.9] is two lists). Every point's --sets
 * start with the command's `sets`. Usage errors name the --grid or the
 * points file's line and column. */
int sweep_build(struct sweep *s, const char *const *grids, int n_grids, const char *points_file,
                const char *const *sets, int n_sets, struct err *e);
void sweep_free(struct sweep *s);

/* What one point gave. Plain data, so it can be sent between processes. */
struct sweep_result {
    bool ran;                    /* it was started */
    bool finished;               /* trained to the end without an error */
    bool interrupted;            /* SIGINT ended it early: not finished, no error */
    int status;                  /* 0, or the exit code of its error */
    char error[sizeof(struct err){0}.msg];
    struct epoch_report *epochs; /* every epoch it reported, [n_epochs] */
    int n_epochs;
    struct epoch_report final;   /* the epoch whose parameters it ends with */
    double seconds;              /* the point's wall time: building, training, writing */
    float *params;               /* [n_params], host: a finished point's parameters for rank 0 to write */
    size_t n_params;             /* (MPI ranks but 0 with --out, and rank 0 for what it received) */
};

/* Point i's overrides as a legend names it: "lr=0.3, std=0.01", the keys
 * shortened as in its directory name, the values as given; the seed left
 * out unless with_seed. */
void sweep_point_caption(const struct sweep *s, int i, bool with_seed, char *out, size_t cap);

/* Everything the points need, built and checked before anything trains:
 * each point's spec, the data (loaded once per distinct data section and
 * seed) and one backend. */
struct sweep_plan {
    struct spec *specs;        /* [n_points] */
    struct data_split *data;   /* [n_data] */
    bool *log_rmse;            /* [n_data] */
    int *data_of;              /* [n_points]: index into data */
    int n_data;
    struct backend *be;
};

/* Loads every point's spec (a bad value names the point, its key=values
 * and the --set as `run` would), the data, the backend; checks every spec
 * against its data. Nothing trains. */
int sweep_prepare(struct sweep_plan *p, const struct sweep *s, const struct run_options *o, struct err *e);
void sweep_plan_free(struct sweep_plan *p);

/* Called (serialized) when point i ends, finished or not. */
typedef void (*sweep_done_fn)(int i, const struct sweep_result *r, void *arg);

/* Trains the points i = first, first + stride, ... < n_points into
 * results[i]; on a CPU backend (shared by threads) up to `threads` points
 * side by side, each worker's GEMMs on threads / workers; on a GPU one
 * after another. A point's error is recorded in its result and the others
 * go on; after SIGINT (train_stop_requested) no point starts. With `out`,
 * a finished point's files go to <set>/<name>/ as `run --out` writes them
 * (without out->set, its parameters stay in its result). One process:
 * first 0, stride 1; MPI: first rank, stride size, each rank on its GPU
 * (backend_select: its local rank), then sweep_gather. */
struct sweep_output {
    const struct outset *set; /* a whole output set; NULL: keep each finished point's params in its result */
    enum y_scale y_scale;     /* of the points' curves.svg */
};
void sweep_run_points(const struct sweep_plan *p, const struct sweep *s, int first, int stride, int threads,
                      const struct sweep_output *out, sweep_done_fn done, void *arg, struct sweep_result *results);
void sweep_results_free(struct sweep_result *results, int n);
/* Point i's files into out's <set>/<name>/, as `run --out` writes them:
 * m is its model (on p's backend), params its parameters on the host. */
int sweep_write_point(const struct sweep_plan *p, const struct sweep *s, const struct sweep_output *out, int i,
                      struct model *m, const float *params, const struct sweep_result *r, struct err *e);

/* cmd/sweep_ranks.c, in an MPI job: every rank's results to rank 0, and
 * with out (rank 0's set; the other ranks kept their points' params) the
 * points other ranks trained written into it. Every rank calls it, after
 * sweep_run_points(..., rank, size, ...). */
int sweep_gather(const struct sweep_plan *p, const struct sweep *s, const struct sweep_output *out,
                 struct sweep_result *results, struct err *e);

/* cmd/sweep_report.c: from the whole result array. The metric a table is
 * ranked by when --rank-by is not given: test_acc (classification), else
 * valid_log_rmse (tabular regression), else test_loss, else loss. */
const char *sweep_default_rank(const struct sweep_result *results, int n);
/* Whether a higher value of `metric` is better (accuracies). */
bool sweep_higher_is_better(const char *metric);
/* The line of a point that ended: its final epoch, or its error. -1 when
 * it printed an inf or a NaN. */
int sweep_print_point(FILE *f, const struct sweep *s, int i, const struct sweep_result *r);
/* The table, best first; points that differ only in their seed as one
 * row of mean ± std. -1 when it printed an inf or a NaN. */
int sweep_print_table(FILE *f, const struct sweep *s, const struct sweep_result *results, const char *rank_by);
/* sweep.jsonl and sweep.svg into the set. */
int sweep_write_outputs(const struct outset *set, const struct sweep *s, const struct sweep_result *results,
                        const char *rank_by, const char *title, enum y_scale y_scale, struct err *e);

#endif
