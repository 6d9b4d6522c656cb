/* The CPU backend's threads. Each thread that issues CPU ops has a team of
 * cpu_threads_set(n) threads: itself and n - 1 workers, made when it first
 * splits an op. An op split into chunks runs them on the team, the caller
 * taking chunks too, so that it never waits for a worker to wake before
 * starting. Between ops a worker spins for a few microseconds (enough for
 * ops issued back to back) and then sleeps, so it never burns a core for
 * long on a machine busy with other work: waiting awake through a step's
 * longer gaps was measured, and lost on a busy machine (docs/BENCH.md has
 * the numbers). */
#ifndef D2L_CPU_TEAM_H
#define D2L_CPU_TEAM_H

#include <stddef.h>

/* The threads the calling thread's ops may use (cpu_threads_set's count,
 * or all cores available), at least 1. */
int cpu_team_size(void);

/* Element-wise ops over more floats than this are split across the team
 * in blocks of about this many (64 KiB): below it one thread finishes
 * before a second would have started. */
enum { CPU_TEAM_BLOCK_FLOATS = 16384 };

/* Most chunks one run takes. */
enum { CPU_TEAM_MAX_CHUNKS = 4096 };

/* How much of the team a run asks for. Waking a sleeping worker costs a
 * system call and a context switch each way, worth it for a GEMM's slices
 * (hundreds of microseconds), not for an element-wise op's blocks (a few
 * each; waking for every op cost a whole run 17% more CPU, docs/BENCH.md):
 * those take the workers still awake from the op before, if any; but an
 * op that comes right before a GEMM may wake them, so that the wake-up's
 * latency passes under its own work (the batch gather). */
enum team_call { TEAM_WAKE, TEAM_AWAKE_ONLY };

/* Runs chunk_fn(arg, c) for every c in [0, chunks) (chunks <= CPU_TEAM_MAX_CHUNKS)
 * on the calling thread's team and returns when all have run. Which thread
 * runs which chunk varies from run to run: a chunk's result must depend on
 * c alone. */
void cpu_team_run(int chunks, enum team_call call, void (*chunk_fn)(void *arg, int chunk), void *arg);

/* Runs range(arg, begin, end) over pieces that cover [0, n): one call on
 * the caller when n <= block or the team is the caller alone, else blocks
 * of `block` (more where there would be over CPU_TEAM_MAX_CHUNKS) on the
 * team, as `call` says. For ops whose result does not depend on how
 * [0, n) is cut. */
void cpu_team_for(size_t n, size_t block, enum team_call call, void (*range)(void *arg, size_t begin, size_t end),
                  void *arg);

/* Ends the calling thread's workers (a thread's team also ends when the
 * thread exits). */
void cpu_team_release(void);

#endif
