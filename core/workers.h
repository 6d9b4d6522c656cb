/* Worker threads that take jobs from a shared counter until none is left
 * (kfold's folds, sweep's points). */
#ifndef D2L_WORKERS_H
#define D2L_WORKERS_H

/* Runs fn(arg) on n threads (at most 64) and waits for them all; on the
 * calling thread when n is 0 or no thread could be started. */
void workers_run(void *(*fn)(void *), void *arg, int n);

#endif
