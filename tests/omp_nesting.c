// Counts parallel regions opened inside a region that was not taken (`#pragma omp parallel if (0)`):
// such a region is still a nesting level, so the inner region gets a second team of threads while the
// first team's threads spin, and with as many threads as cores each wait becomes a scheduler time
// slice (Linformer's dE took 5.8 ms at two threads against 4.4 ms at one).  The harness fails any test
// case during which one is opened.
//
// How: GCC's OpenMP calls GOMP_parallel to open every region; this definition in the test executable
// is found before libgomp's, looks at the nesting levels and hands on to libgomp's.  Other OpenMP
// runtimes (clang's libomp) never call it, and lra_test_nesting_watched() then stays 0.
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);

static long g_regions, g_nested;
static char g_first[400];  // room for both places and the text around them
// The body of the one-thread region (an `if` that was false passes one thread) this thread is in.
static __thread void (*t_untaken)(void *);

// "file+offset" of a function, for addr2line.
static void where_is(void (*fn)(void *), char *buf, size_t cap) {
    Dl_info info = {0};
    void *addr;
    memcpy(&addr, &fn, sizeof addr);  // a function's address as data (ISO C has no cast for it)
    dladdr(addr, &info);
    snprintf(buf, cap, "%s+%#lx", info.dli_fname ? info.dli_fname : "?",
             (unsigned long)((char *)addr - (char *)info.dli_fbase));
}

void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags) {
    static gomp_parallel_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "GOMP_parallel");
        memcpy(&real, &sym, sizeof real);
        if (!real) {
            fprintf(stderr, "omp_nesting: libgomp's GOMP_parallel not found\n");
            abort();
        }
    }
    // A region is opened inside one that was not taken when the nesting level exceeds the active level;
    // it costs only when it gets more than one thread (num_threads 0: as many as the setting says).
    const int team = num_threads ? (int)num_threads : omp_get_max_threads();
    if (omp_get_level() > omp_get_active_level() && team > 1) {
#pragma omp atomic update
        g_nested++;
        if (!g_first[0]) {
            char inner[140], outer[140] = "?";
            where_is(fn, inner, sizeof inner);
            if (t_untaken) where_is(t_untaken, outer, sizeof outer);
            snprintf(g_first, sizeof g_first, "region body %s inside %s (addr2line -f -e FILE OFFSET)", inner, outer);
        }
    }
#pragma omp atomic update
    g_regions++;
    void (*saved)(void *) = t_untaken;
    if (num_threads == 1) t_untaken = fn;
    real(fn, data, num_threads, flags);
    t_untaken = saved;
}

long lra_test_nesting_watched(void) {
    long v;
#pragma omp atomic read
    v = g_regions;
    return v;
}

long lra_test_nested_regions_take(char *first, size_t cap) {
    long v;
#pragma omp atomic capture
    {
        v = g_nested;
        g_nested = 0;
    }
    if (first && cap) snprintf(first, cap, "%s", g_first);
    g_first[0] = 0;
    return v;
}
