/* Runs the d2ltrain binary (or any shell command) and captures its output,
 * for the end-to-end tests. */
#ifndef D2L_TEST_PROC_H
#define D2L_TEST_PROC_H

struct proc_result {
    int status; /* exit code, or 128 + signal */
    char *out, *err;
};

/* Runs `sh -c "$D2LTRAIN ARGS"` from the repository root. */
struct proc_result run_d2ltrain(const char *args);
/* Runs a shell command from the repository root. */
struct proc_result run_shell(const char *command);
void proc_result_free(struct proc_result *r);

/* The repository root (D2L_ROOT, else "."). */
const char *repo_root(void);

/* Epoch lines of out with the trailing " time ...s" removed, for comparing
 * two runs. */
char *epoch_lines_without_time(const char *out);

#endif
