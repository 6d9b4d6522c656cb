/* A team per issuing thread (core/cpu_team.h). The job being run is one
 * 64-bit word, its generation, chunk count and next unclaimed chunk, so that
 * a worker that arrives late for a job cannot claim a chunk of the next
 * one: a claim is a compare-and-swap that also checks the generation. */
#include "cpu_team.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cpu_gemm.h"

/* How long a thread that waits (a worker for the next op, the caller for
 * the workers' last chunks) spins before it sleeps: long enough for ops
 * issued back to back, short enough to cost no measurable CPU time
 * (docs/BENCH.md: 5 and 20 us measured alike, 50 us cost CPU time). */
enum { SPIN_NS = 5000 };

typedef void (*chunk_fn_t)(void *arg, int chunk);

struct team {
    int size; /* threads, the caller included */
    int workers;
    pthread_t *threads;
    uint32_t generation; /* the caller's count of jobs */
    /* generation << 32 | chunks << 16 | next chunk */
    _Atomic uint64_t job;
    _Atomic(chunk_fn_t) fn;
    _Atomic(void *) arg;
    _Atomic uint32_t posted;  /* futex: the generation workers are to run */
    _Atomic int sleepers;     /* workers asleep on posted */
    _Atomic uint32_t done;    /* futex: chunks of the job finished */
    _Atomic int caller_sleeps; /* the caller asleep on done */
    _Atomic bool stop;
};

/* cpu_threads_set's count for this thread; 0: all cores available */
static _Thread_local int team_size_asked;
static _Thread_local struct team *thread_team;
static pthread_key_t team_key;
static pthread_once_t team_key_once = PTHREAD_ONCE_INIT;

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    /* a wake, a changed word (EAGAIN) and a signal (EINTR) all return to
     * the caller's loop, which looks again */
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Spins until *word differs from `from` or SPIN_NS have passed; its value. */
static uint32_t spin_while_equal(_Atomic uint32_t *word, uint32_t from)
{
    long deadline = 0;
    for (unsigned i = 0;; i++) {
        uint32_t v = atomic_load_explicit(word, memory_order_acquire);
        if (v != from)
            return v;
        if (i % 64 == 0) {
            long t = now_ns();
            if (!deadline)
                deadline = t + SPIN_NS;
            else if (t > deadline)
                return v;
        }
        cpu_relax();
    }
}

/* The next chunk of job `generation`, or -1 when there is none. */
static int claim(struct team *t, uint32_t generation)
{
    uint64_t w = atomic_load_explicit(&t->job, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(w >> 32) != generation || (w & 0xffff) >= ((w >> 16) & 0xffff))
            return -1;
        if (atomic_compare_exchange_weak_explicit(&t->job, &w, w + 1, memory_order_acq_rel, memory_order_acquire))
            return (int)(w & 0xffff);
    }
}

static void finish_chunk(struct team *t)
{
    atomic_fetch_add(&t->done, 1);
    if (atomic_load(&t->caller_sleeps))
        futex_wake(&t->done, 1);
}

/* Runs chunks of job `generation` until none is left. The function and
 * argument are read after the generation was seen and used only for chunks
 * claimed under it: the caller changes them only once all its chunks are
 * done. */
static void take_chunks(struct team *t, uint32_t generation)
{
    chunk_fn_t fn = atomic_load_explicit(&t->fn, memory_order_relaxed);
    void *arg = atomic_load_explicit(&t->arg, memory_order_relaxed);
    for (int c; (c = claim(t, generation)) >= 0;) {
        fn(arg, c);
        finish_chunk(t);
    }
}

static void *worker_main(void *arg)
{
    struct team *t = arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t posted = spin_while_equal(&t->posted, seen);
        while (posted == seen) {
            atomic_fetch_add(&t->sleepers, 1);
            if (atomic_load(&t->posted) == seen)
                futex_wait(&t->posted, seen);
            atomic_fetch_sub(&t->sleepers, 1);
            posted = atomic_load(&t->posted);
        }
        if (atomic_load(&t->stop))
            break;
        seen = posted;
        take_chunks(t, seen);
    }
    cpu_gemm_release_thread();
    return NULL;
}

static void team_free(void *arg)
{
    struct team *t = arg;
    if (!t)
        return;
    atomic_store(&t->stop, true);
    atomic_fetch_add(&t->posted, 1);
    futex_wake(&t->posted, INT_MAX);
    for (int i = 0; i < t->workers; i++)
        pthread_join(t->threads[i], NULL);
    free(t->threads);
    free(t);
}

static void team_key_make(void)
{
    if (pthread_key_create(&team_key, team_free)) {
        fprintf(stderr, "d2ltrain: cannot register the CPU team's thread destructor\n");
        exit(EXIT_RUNTIME);
    }
}

/* A team of `size` threads; where fewer workers can be started, those
 * that could. */
static struct team *team_make(int size)
{
    struct team *t = calloc(1, sizeof *t);
    if (!t || !(t->threads = calloc((size_t)size - 1, sizeof *t->threads))) {
        free(t);
        return NULL;
    }
    t->size = size;
    /* signals are the issuing thread's business */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (t->workers < size - 1 && !pthread_create(&t->threads[t->workers], NULL, worker_main, t))
        t->workers++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return t;
}

int cpu_team_size(void)
{
    static _Atomic int available; /* asked once: every op asks for the size */
    if (team_size_asked)
        return team_size_asked;
    if (!atomic_load_explicit(&available, memory_order_relaxed))
        atomic_store_explicit(&available, cpu_threads_available(), memory_order_relaxed);
    return atomic_load_explicit(&available, memory_order_relaxed);
}

/* The calling thread's team, or NULL for a team of one. */
static struct team *team_here(void)
{
    int size = cpu_team_size();
    if (thread_team && thread_team->size == size)
        return thread_team;
    cpu_team_release();
    if (size < 2)
        return NULL;
    pthread_once(&team_key_once, team_key_make);
    if (!(thread_team = team_make(size)))
        return NULL;
    if (pthread_setspecific(team_key, thread_team)) {
        fprintf(stderr, "d2ltrain: cannot register the CPU team's thread destructor\n");
        exit(EXIT_RUNTIME);
    }
    return thread_team;
}

void cpu_team_release(void)
{
    if (!thread_team)
        return;
    pthread_setspecific(team_key, NULL);
    team_free(thread_team);
    thread_team = NULL;
}

void cpu_team_run(int chunks, enum team_call call, void (*chunk_fn)(void *arg, int chunk), void *arg)
{
    struct team *t = chunks > 1 ? team_here() : NULL;
    if (!t || !t->workers) {
        for (int c = 0; c < chunks; c++)
            chunk_fn(arg, c);
        return;
    }
    atomic_store_explicit(&t->done, 0, memory_order_relaxed);
    atomic_store_explicit(&t->fn, chunk_fn, memory_order_relaxed);
    atomic_store_explicit(&t->arg, arg, memory_order_relaxed);
    uint32_t generation = ++t->generation;
    atomic_store(&t->job, (uint64_t)generation << 32 | (uint64_t)chunks << 16);
    atomic_store(&t->posted, generation);
    if (call == TEAM_WAKE && atomic_load(&t->sleepers))
        futex_wake(&t->posted, INT_MAX);
    for (int c; (c = claim(t, generation)) >= 0;) {
        chunk_fn(arg, c);
        atomic_fetch_add(&t->done, 1);
    }
    /* the workers' last chunks */
    for (uint32_t done; (done = atomic_load(&t->done)) != (uint32_t)chunks;) {
        if (spin_while_equal(&t->done, done) != done)
            continue;
        atomic_store(&t->caller_sleeps, 1);
        if (atomic_load(&t->done) == done)
            futex_wait(&t->done, done);
        atomic_store(&t->caller_sleeps, 0);
    }
}

struct team_for {
    size_t n, block;
    void (*range)(void *arg, size_t begin, size_t end);
    void *arg;
};

static void team_for_block(void *arg, int chunk)
{
    const struct team_for *f = arg;
    size_t begin = (size_t)chunk * f->block;
    f->range(f->arg, begin, f->n - begin < f->block ? f->n : begin + f->block);
}

void cpu_team_for(size_t n, size_t block, enum team_call call, void (*range)(void *arg, size_t begin, size_t end),
                  void *arg)
{
    if (n <= block || cpu_team_size() < 2) {
        range(arg, 0, n);
        return;
    }
    if (n / block >= CPU_TEAM_MAX_CHUNKS)
        block = (n + CPU_TEAM_MAX_CHUNKS - 1) / CPU_TEAM_MAX_CHUNKS;
    struct team_for f = {.n = n, .block = block, .range = range, .arg = arg};
    cpu_team_run((int)((n + block - 1) / block), call, team_for_block, &f);
}

void cpu_threads_set(int n) { team_size_asked = n < 1 ? 0 : n; }

int cpu_threads_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set))
        return 1;
    int n = CPU_COUNT(&set);
    return n < 1 ? 1 : n;
}
