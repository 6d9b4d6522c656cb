/* d2ltrain: the subcommand table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/comm.h"
#include "../data/download.h"
#include "cmd.h"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    bool over_ranks; /* shares its work among the ranks of an MPI job (docs/MPI.md) */
};

static const struct subcommand subcommands[] = {
    {"run", cmd_run, "train the experiment a spec describes", true},
    {"kfold", cmd_kfold, "k-fold cross-validation of a spec", true},
    {"sweep", cmd_sweep, "train a grid of --set overrides and rank the points", true},
    {"predict", cmd_predict, "apply a saved model (run --out) to the test set", false},
    {"plot", cmd_plot, "draw the curves of saved runs (metrics.jsonl) into one SVG", false},
    {"show", cmd_show, "draw images of a dataset with their labels", false},
    {"fetch", cmd_fetch, "download and verify datasets into the cache", false},
    {"list", cmd_list, "known datasets and their cache status", false},
    {"info", cmd_info, "build, GPUs and library versions", false},
    {"inspect", cmd_inspect, "the tensors of a checkpoint (model.safetensors)", false},
};

static void print_help(FILE *f)
{
    fprintf(f, "usage: d2ltrain COMMAND [options]   (d2ltrain COMMAND --help for details)\n\n"
               "Trains the programs of Dive into Deep Learning ch. 3-5 from YAML specs.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\nexamples:\n  d2ltrain run configs/mlp_fashion.yaml\n"
               "  d2ltrain run configs/linreg.yaml --set optimizer.sgd.lr=0.3 --set train.epochs=5\n"
               "  d2ltrain kfold configs/kaggle_house.yaml\n"
               "  d2ltrain sweep configs/mlp_fashion.yaml --grid optimizer.sgd.lr=0.1,0.3,1 --grid seed=1,2\n"
               "  d2ltrain run configs/mlp_fashion.yaml --out out/mlp\n"
               "  d2ltrain predict configs/mlp_fashion.yaml --checkpoint out/mlp/model.safetensors\n"
               "  d2ltrain run configs/blocks_ch5.yaml --print-model\n"
               "  d2ltrain inspect out/mlp/model.safetensors\n"
               "  d2ltrain plot out/wd0 out/wd3 -o wd.svg\n"
               "  d2ltrain show fashion_mnist -n 18 -o samples.svg\n"
               "  d2ltrain fetch kaggle_house_train\n");
}

int main(int argc, char **argv)
{
    /* The CPU backend runs every oneDNN call on one OpenMP thread inside its
     * own team (core/cpu_team.h), so no libgomp team should form; should one
     * (oneDNN's internals, a plugin), its threads wait passively unless the
     * environment says otherwise: spinning is many times slower on a busy
     * machine, where a spinning thread takes the core from the one it waits
     * for (docs/BENCH.md). libgomp reads this once, when oneDNN loads it
     * (core/dnnl_lib.h); set here, before any other thread exists. */
    setenv("OMP_WAIT_POLICY", "passive", 0);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("d2ltrain %s\n", D2LTRAIN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(argv[1], subcommands[i].name))
            continue;
        struct err e = {0};
        if (comm_start(&e))
            return report_error(&e);
        /* every rank would do the same work and write the same files */
        if (comm_size() > 1 && !subcommands[i].over_ranks) {
            err_set(&e, EXIT_USAGE, "%s runs as one process: start it without an MPI launcher (run, kfold and sweep "
                    "share their work among ranks)", argv[1]);
            return report_error(&e);
        }
        if (download_global_init(&e))
            return report_error(&e);
        int status = subcommands[i].run(argc - 1, argv + 1);
        download_global_cleanup();
        /* a rank that failed alone leaves without MPI_Finalize, which would
         * wait for the others: mpirun then ends the job; an interrupted
         * data-parallel run (130) stopped on every rank alike */
        if (status == 0 || status == 130 || comm_size() == 1 || comm_exit_agreed())
            comm_finish();
        return status;
    }
    fprintf(stderr, "d2ltrain: error: unknown command '%s' (see d2ltrain --help)\n", argv[1]);
    return EXIT_USAGE;
}
