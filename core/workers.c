#include "workers.h"

int workers_start(struct workers *w, void *(*fn)(void *), void *arg, int n)
{
    if (n > 64)
        n = 64;
    for (w->started = 0; w->started < n; w->started++)
        if (pthread_create(&w->ids[w->started], NULL, fn, arg))
            break;
    return w->started;
}

void workers_join(struct workers *w)
{
    for (int i = 0; i < w->started; i++)
        pthread_join(w->ids[i], NULL);
    w->started = 0;
}

void workers_run(void *(*fn)(void *), void *arg, int n)
{
    struct workers w;
    if (workers_start(&w, fn, arg, n) == 0)
        fn(arg);
    workers_join(&w);
}
