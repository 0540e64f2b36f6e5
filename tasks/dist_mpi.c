// MPI implementation of tasks/dist.h (compiled only by `make MPI=1`, which defines LRA_WITH_MPI).
//
// Reductions are deterministic: MPI_Allreduce may combine the ranks' contributions in any order (and
// in a different order on different ranks), so instead each element is summed by exactly one rank, in
// rank order 0, 1, ..., K-1, in double precision:
//   1. the buffer is cut into K contiguous chunks; an all-to-all sends chunk j of every rank to rank j;
//   2. rank j adds the K copies of its chunk in rank order;
//   3. an all-gather hands every rank every summed chunk.
// This moves as many bytes as a ring all-reduce (2 (K-1)/K n per rank), and the result is bitwise the
// same on every rank and in every run with the same K.
//
// A process not started by an MPI launcher (no mpirun) does not initialise MPI at all and behaves as
// the single-process build, so `build/lra train` without mpirun is unchanged.
#ifdef LRA_WITH_MPI
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/dist.h"

static int g_active;       // MPI initialised by us and more than zero ranks
static int g_finalized;
static int g_rank, g_size = 1, g_local_size = 1;
static int *g_flags;       // [2 * size]: scratch of lra_dist_agree
static double *g_scratch;  // receive buffer of the all-to-all (grown as needed, never in a step's loop)
static size_t g_scratch_cap;
static int *g_counts;      // [4 * size]: send/recv counts and displacements
static char g_agreed[2048];  // the last message lra_dist_agree produced (to avoid a second "rank R: ")

// Elements reduced per round: bounds the scratch buffer and keeps MPI's int counts far from overflow.
#define PIECE ((size_t)1 << 22)

// True when a launcher (Open MPI's mpirun, or a PMI/PMIx one such as srun or MPICH's hydra) started us.
static int launched_by_mpi(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

void lra_dist_init(int *argc, char ***argv) {
    if (g_active || g_finalized || !launched_by_mpi()) return;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        // A rank waiting in a collective yields its core instead of spinning, so on a shared or
        // oversubscribed machine it does not slow the rank still computing.  Open MPI's own flag;
        // `mpirun --mca mpi_yield_when_idle 0` still wins.
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
        int provided = 0;
        // Only the main thread calls MPI; OpenMP workers and the batcher thread never do.
        MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g_local_size);
    MPI_Comm_free(&node);
    g_flags = lra_xcalloc(2 * (size_t)g_size, sizeof *g_flags);
    g_counts = lra_xcalloc(4 * (size_t)g_size, sizeof *g_counts);
    g_active = 1;
}

void lra_dist_finalize(void) {
    if (!g_active) return;
    MPI_Finalize();
    g_active = 0;
    g_finalized = 1;
    g_rank = 0;
    g_size = g_local_size = 1;
    free(g_flags);
    free(g_counts);
    free(g_scratch);
    g_flags = g_counts = NULL;
    g_scratch = NULL;
    g_scratch_cap = 0;
}

int lra_dist_rank(void) { return g_rank; }
int lra_dist_size(void) { return g_size; }
int lra_dist_local_size(void) { return g_local_size; }

// Chunk j of a piece of n elements: [n*j/K, n*(j+1)/K).
static int chunk_lo(size_t n, int j) { return (int)(n * (size_t)j / (size_t)g_size); }

// One round of the deterministic sum over a piece of n <= PIECE elements.  buf: [n] of `type`.
static void reduce_piece(void *buf, size_t n, MPI_Datatype type) {
    const int K = g_size, me = g_rank;
    const size_t esz = type == MPI_FLOAT ? sizeof(float) : sizeof(double);
    int *scount = g_counts, *sdispl = g_counts + K, *rcount = g_counts + 2 * K, *rdispl = g_counts + 3 * K;
    const int my_lo = chunk_lo(n, me), my_n = chunk_lo(n, me + 1) - my_lo;
    for (int j = 0; j < K; j++) {
        sdispl[j] = chunk_lo(n, j);
        scount[j] = chunk_lo(n, j + 1) - sdispl[j];
        rcount[j] = my_n;  // every rank sends me its copy of my chunk
        rdispl[j] = j * my_n;
    }
    const size_t need = (size_t)K * (size_t)my_n * esz;
    if (need > g_scratch_cap) {
        g_scratch = lra_xrealloc(g_scratch, need);
        g_scratch_cap = need;
    }
    MPI_Alltoallv(buf, scount, sdispl, type, g_scratch, rcount, rdispl, type, MPI_COMM_WORLD);
    // Sum my chunk in rank order, in double, and write it back in place.
    if (type == MPI_FLOAT) {
        const float *in = (const float *)(void *)g_scratch;
        float *out = (float *)buf + my_lo;
        for (int i = 0; i < my_n; i++) {
            double acc = 0;
            for (int r = 0; r < K; r++) acc += (double)in[(size_t)r * my_n + i];
            out[i] = (float)acc;
        }
    } else {
        const double *in = g_scratch;
        double *out = (double *)buf + my_lo;
        for (int i = 0; i < my_n; i++) {
            double acc = 0;
            for (int r = 0; r < K; r++) acc += in[(size_t)r * my_n + i];
            out[i] = acc;
        }
    }
    // Every rank gets every summed chunk (chunk j from rank j).
    for (int j = 0; j < K; j++) {
        rdispl[j] = chunk_lo(n, j);
        rcount[j] = chunk_lo(n, j + 1) - rdispl[j];
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, type, buf, rcount, rdispl, type, MPI_COMM_WORLD);
}

static void allreduce_sum(void *buf, size_t n, MPI_Datatype type) {
    if (!g_active || g_size == 1) return;
    const size_t esz = type == MPI_FLOAT ? sizeof(float) : sizeof(double);
    for (size_t at = 0; at < n; at += PIECE) {
        size_t len = n - at < PIECE ? n - at : PIECE;
        reduce_piece((char *)buf + at * esz, len, type);
    }
}

void lra_dist_allreduce_sum_f32(float *buf, size_t n) { allreduce_sum(buf, n, MPI_FLOAT); }
void lra_dist_allreduce_sum_f64(double *buf, size_t n) { allreduce_sum(buf, n, MPI_DOUBLE); }

// One round of lra_dist_sum_shards_f32 over elements [at, at + n) of each shard, as reduce_piece with L
// copies per rank: rank j receives [rank][local shard][its chunk] and adds them in that (global) order.
static void sum_shards_piece(const float *local, int L, size_t stride, size_t at, size_t n, float *out) {
    const int K = g_size, me = g_rank;
    int *scount = g_counts, *sdispl = g_counts + K, *rcount = g_counts + 2 * K, *rdispl = g_counts + 3 * K;
    const int my_lo = chunk_lo(n, me), my_n = chunk_lo(n, me + 1) - my_lo;
    // The send buffer groups chunk j of every local shard together: [j][l][chunk j].
    const size_t need = 2 * (size_t)L * n * sizeof(float) + (size_t)K * (size_t)L * (size_t)my_n * sizeof(float);
    if (need > g_scratch_cap) {
        g_scratch = lra_xrealloc(g_scratch, need);
        g_scratch_cap = need;
    }
    float *send = (float *)(void *)g_scratch, *recv = send + 2 * (size_t)L * n;
    size_t pos = 0;
    for (int j = 0; j < K; j++) {
        const int lo = chunk_lo(n, j), cnt = chunk_lo(n, j + 1) - lo;
        sdispl[j] = (int)pos;
        scount[j] = L * cnt;
        for (int l = 0; l < L; l++, pos += (size_t)cnt)
            memcpy(send + pos, local + (size_t)l * stride + at + (size_t)lo, (size_t)cnt * sizeof(float));
        rcount[j] = L * my_n;
        rdispl[j] = j * L * my_n;
    }
    MPI_Alltoallv(send, scount, sdispl, MPI_FLOAT, recv, rcount, rdispl, MPI_FLOAT, MPI_COMM_WORLD);
    for (int i = 0; i < my_n; i++) {
        double acc = 0;
        for (int g = 0; g < K * L; g++) acc += (double)recv[(size_t)g * my_n + i];
        out[at + (size_t)my_lo + i] = (float)acc;
    }
    for (int j = 0; j < K; j++) {
        rdispl[j] = chunk_lo(n, j);
        rcount[j] = chunk_lo(n, j + 1) - rdispl[j];
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, out + at, rcount, rdispl, MPI_FLOAT, MPI_COMM_WORLD);
}

void lra_dist_sum_shards_f32(const float *local, int local_shards, size_t n, float *out) {
    if (!g_active || g_size == 1) {
        for (size_t i = 0; i < n; i++) {
            double acc = 0;
            for (int j = 0; j < local_shards; j++) acc += (double)local[(size_t)j * n + i];
            out[i] = (float)acc;
        }
        return;
    }
    const size_t piece = PIECE / (size_t)local_shards > 0 ? PIECE / (size_t)local_shards : 1;
    for (size_t at = 0; at < n; at += piece)
        sum_shards_piece(local, local_shards, n, at, n - at < piece ? n - at : piece, out);
}

void lra_dist_bcast_bytes(void *buf, size_t n, int root) {
    if (!g_active || g_size == 1) return;
    const size_t step = (size_t)1 << 30;  // MPI counts are int
    for (size_t at = 0; at < n; at += step) {
        size_t len = n - at < step ? n - at : step;
        MPI_Bcast((char *)buf + at, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void lra_dist_bcast_f32(float *buf, size_t n, int root) { lra_dist_bcast_bytes(buf, n * sizeof *buf, root); }

void lra_dist_barrier(void) {
    if (g_active && g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

lra_status lra_dist_agree(lra_status local) {
    if (!g_active || g_size == 1) return local;
    // An error that an earlier agree already turned into "rank R: ..." on every rank passes unchanged.
    int mine[2] = {(int)local, local != LRA_OK && g_agreed[0] && !strcmp(lra_error_message(), g_agreed)};
    MPI_Allgather(mine, 2, MPI_INT, g_flags, 2, MPI_INT, MPI_COMM_WORLD);
    int who = -1, failed = 0;
    for (int r = 0; r < g_size; r++)
        if (g_flags[2 * r] != LRA_OK && failed++ == 0) who = r;
    if (who < 0) return LRA_OK;
    char msg[sizeof g_agreed];
    if (g_rank == who) {
        strncpy(msg, lra_error_message(), sizeof msg - 1);
        msg[sizeof msg - 1] = '\0';
    }
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, MPI_COMM_WORLD);
    const lra_status code = (lra_status)g_flags[2 * who];
    // No "rank R: " when it was said already, or when every rank failed (e.g. a bad config value).
    if (g_flags[2 * who + 1] || failed == g_size)
        lra_error(code, "%s", msg);
    else
        lra_error(code, "rank %d: %s", who, msg);
    strncpy(g_agreed, lra_error_message(), sizeof g_agreed - 1);
    return code;
}

_Noreturn void lra_dist_abort(int code) {
    if (g_active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
#else
typedef int lra_dist_mpi_c_is_empty_without_mpi;
#endif
