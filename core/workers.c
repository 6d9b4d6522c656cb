#include "workers.h"

#include <pthread.h>

void workers_run(void *(*fn)(void *), void *arg, int n)
{
    pthread_t ids[64];
    if (n > 64)
        n = 64;
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&ids[started], NULL, fn, arg))
            break;
    if (started == 0)
        fn(arg);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
}
