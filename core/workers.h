/* Worker threads that take jobs from a shared counter until none is left
 * (kfold's folds, sweep's points). */
#ifndef D2L_WORKERS_H
#define D2L_WORKERS_H

#include <pthread.h>

struct workers {
    pthread_t ids[64];
    int started;
};

/* Starts fn(arg) on n threads (at most 64); returns how many started,
 * which may be fewer (none when n is 0). */
int workers_start(struct workers *w, void *(*fn)(void *), void *arg, int n);
/* Waits for the threads workers_start started. */
void workers_join(struct workers *w);

/* Runs fn(arg) on n threads (at most 64) and waits for them all; on the
 * calling thread when n is 0 or no thread could be started. */
void workers_run(void *(*fn)(void *), void *arg, int n);

#endif
