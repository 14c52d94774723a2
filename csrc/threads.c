/* threads.c -- the barrier of the multi-threaded minibatch driver (train_team in cmlp.h).
 *
 * The threads are the caller's (Python threads, each calling the driver without the GIL);
 * C only makes them meet. A waiting thread spins briefly, then yields its core, so a team
 * larger than the free cores still progresses. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L /* sched_yield under -std=c99 */
#endif
#include "cmlp.h"

#if defined(_WIN32)
#include <windows.h>
#define CMLP_YIELD() SwitchToThread()
#define CMLP_LOAD(p) InterlockedCompareExchange((volatile LONG *)(p), 0, 0)
#define CMLP_ADD(p, v) InterlockedExchangeAdd((volatile LONG *)(p), (v))
#define CMLP_STORE(p, v) InterlockedExchange((volatile LONG *)(p), (v))
#else
#include <sched.h>
#define CMLP_YIELD() sched_yield()
#define CMLP_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define CMLP_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define CMLP_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#endif

void cmlp_barrier_init(cmlp_barrier *b, int n)
{
    b->count = 0;
    b->phase = 0;
    b->n = n;
}

void cmlp_barrier_wait(cmlp_barrier *b)
{
    /* the last to arrive resets the count, then opens the phase; the others wait for the
     * phase to change. Sequentially consistent atomics order every write before the barrier
     * before every read after it. */
    const long phase = CMLP_LOAD(&b->phase);
    if (CMLP_ADD(&b->count, 1) == b->n - 1) {
        CMLP_STORE(&b->count, 0);
        CMLP_ADD(&b->phase, 1);
    } else {
        long spins = 0;
        while (CMLP_LOAD(&b->phase) == phase)
            if (++spins > 2000) CMLP_YIELD();
    }
}
