/* Wall-clock seconds from a monotonic clock, for durations. */
#ifndef D2L_CLOCK_H
#define D2L_CLOCK_H

#include <time.h>

static inline double clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
