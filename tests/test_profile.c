// The step profiler (core/profile.h): its phase times add up to the steps' wall time, the op rows of a
// phase add up to that phase, products carry their exact flop counts, and with the profiler off nothing
// is recorded.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/profile.h"
#include "core/rng.h"
#include "optim/optimizer.h"
#include "tasks/model.h"
#include "tasks/step.h"
#include "tests/harness.h"

static lra_status same_batch(void *user, const lra_batch **out) {
    *out = user;
    return LRA_OK;
}

static void test_times_add_up(void) {
    const int B = 8, n = 64;
    lra_model_config c;
    memset(&c, 0, sizeof c);
    c.enc.kernel = lra_attention_find("softmax");
    lra_attn_values_defaults(c.enc.kernel, &c.enc.kernel_opts);
    c.enc.vocab_size = 16;
    c.enc.pos_len = n;
    c.enc.seq_len = n;
    c.enc.dim = 32;
    c.enc.heads = 2;
    c.enc.head_dim = 16;
    c.enc.hidden = 64;
    c.enc.layers = 2;
    c.enc.dropout = 0.1f;
    c.pooling = LRA_POOL_MEAN;
    c.num_classes = 4;
    c.head_hidden = 32;
    lra_model m;
    lra_model_build(&m, &c, 3);
    lra_optimizer opt;
    lra_optimizer_init(&opt, &(lra_optimizer_config){.kind = LRA_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6});
    lra_schedule sched;
    lra_schedule_init(&sched, LRA_SCHED_CONSTANT, 1e-3, 1, 100);
    int32_t tok[8 * 64], y[8];
    float mask[8 * 64];
    lra_rng r = lra_rng_make(1, 2);
    for (int i = 0; i < B * n; i++) {
        tok[i] = (int32_t)lra_rng_int(&r, 1, 16);
        mask[i] = 1.0f;
    }
    for (int b = 0; b < B; b++) y[b] = b % 4;
    lra_batch batch = {.tokens = tok, .mask = mask, .labels = y, .rows = B, .count = B, .global_count = B,
                       .n_seq = 1, .length = n};
    lra_ctx *ctx = lra_ctx_new(0);
    lra_stepper st = {.model = &m, .opt = &opt, .sched = &sched, .ctx = ctx, .batch_size = B, .accumulation = 1,
                      .world = 1};
    CHECK_OK(lra_stepper_init(&st));
    lra_step_result res;
    CHECK_OK(lra_step(&st, 0, same_batch, &batch, &res));  // warm-up, not profiled
    lra_profile_totals off = lra_profile_get_totals();
    CHECK(off.total == 0);

    lra_profile_enable(1);
    const double t0 = omp_get_wtime();
    for (int s = 1; s <= 4; s++) CHECK_OK(lra_step(&st, s, same_batch, &batch, &res));
    lra_profile_phase(LRA_PHASE_NONE);
    const double wall = omp_get_wtime() - t0;
    lra_profile_totals t = lra_profile_get_totals();
    printf("  wall %.2f ms, phases %.2f ms (forward %.2f, backward %.2f, optimizer %.2f, other %.2f)\n", 1e3 * wall,
           1e3 * t.total, 1e3 * t.seconds[LRA_PHASE_FORWARD], 1e3 * t.seconds[LRA_PHASE_BACKWARD],
           1e3 * t.seconds[LRA_PHASE_OPTIMIZER], 1e3 * t.seconds[LRA_PHASE_OTHER]);
    // The phases tile the steps: their sum is the wall time (to the clock reads outside them).
    CHECK(t.total <= wall * 1.0001 + 1e-6 && t.total >= 0.98 * wall);
    CHECK(t.seconds[LRA_PHASE_FORWARD] > 0 && t.seconds[LRA_PHASE_BACKWARD] > 0 && t.seconds[LRA_PHASE_OPTIMIZER] > 0);
    // The op rows of the forward phase are that phase; backward rows all but the loop around them.
    const double fwd_ops = lra_profile_ops_seconds(LRA_PHASE_FORWARD), bwd_ops = lra_profile_ops_seconds(LRA_PHASE_BACKWARD);
    CHECK_MSG(fwd_ops <= t.seconds[LRA_PHASE_FORWARD] * 1.0001 && fwd_ops >= 0.9 * t.seconds[LRA_PHASE_FORWARD],
              "forward ops %.3g s of a %.3g s phase", fwd_ops, t.seconds[LRA_PHASE_FORWARD]);
    CHECK_MSG(bwd_ops <= t.seconds[LRA_PHASE_BACKWARD] * 1.0001 && bwd_ops >= 0.9 * t.seconds[LRA_PHASE_BACKWARD],
              "backward ops %.3g s of a %.3g s phase", bwd_ops, t.seconds[LRA_PHASE_BACKWARD]);
    // Exact flop counts per step: 2 layers x (2 MLP layers [B*n, 32] x [32, 64] and back) and the head's
    // two (plain linear); 2 layers x 3 projections into heads [B*n, 32] x [32, 32] (linear_heads); 2 layers x
    // the output projection (heads_linear).
    long long calls, hcalls, ocalls;
    double secs, flops, hflops, oflops;
    REQUIRE(lra_profile_op_stats("linear", LRA_PHASE_FORWARD, &calls, &secs, &flops));
    REQUIRE(lra_profile_op_stats("linear_heads", LRA_PHASE_FORWARD, &hcalls, &secs, &hflops));
    REQUIRE(lra_profile_op_stats("heads_linear", LRA_PHASE_FORWARD, &ocalls, &secs, &oflops));
    const double mlp = 2.0 * (2.0 * 2 * B * n * 32 * 64) + (2.0 * B * 32 * 32 + 2.0 * B * 32 * 4);
    const double proj = 2.0 * B * n * 32 * 32;  // one [B*n, 32] x [32, 32] product
    CHECK_MSG(calls == 4 * (2 * 2 + 2), "linear calls %lld", calls);
    CHECK_MSG(flops == 4 * mlp, "linear forward flops %.0f, expected %.0f", flops, 4 * mlp);
    CHECK_MSG(hcalls == 4 * 2 * 3 && hflops == 4 * 2 * 3 * proj, "linear_heads: %lld calls, %.0f flops", hcalls, hflops);
    CHECK_MSG(ocalls == 4 * 2 && oflops == 4 * 2 * proj, "heads_linear: %lld calls, %.0f flops", ocalls, oflops);
    // Memory: the op rows' arena bytes add up to what one step takes from the arena (reset after each
    // step, so that is its high-water mark); the MLP's linear forwards hold their outputs [B*n, 64] and
    // [B*n, 32] in each layer.
    const double op_bytes = lra_profile_ops_bytes(LRA_PHASE_FORWARD) + lra_profile_ops_bytes(LRA_PHASE_BACKWARD);
    const double arena = (double)lra_arena_high_water(ctx->arena);
    printf("  op rows %.0f bytes per step, arena %.0f bytes\n", op_bytes / 4, arena);
    CHECK_MSG(op_bytes / 4 <= arena && op_bytes / 4 >= 0.95 * arena, "op rows %.0f bytes per step, arena %.0f",
              op_bytes / 4, arena);
    CHECK(lra_profile_op_bytes("linear", LRA_PHASE_FORWARD) >= 4.0 * 2 * B * n * (64 + 32) * sizeof(float));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    lra_profile_report(f, 4, 0);
    fclose(f);
    CHECK(strstr(text, "forward") && strstr(text, "backward") && strstr(text, "linear") && strstr(text, "GFLOP/s") &&
          strstr(text, "MiB/step"));
    free(text);
    lra_profile_enable(0);
    lra_stepper_free(&st);
    lra_ctx_free(ctx);
    lra_model_free(&m);
}

static const lra_test_case TESTS[] = {{"times_add_up", test_times_add_up}};
LRA_TEST_MAIN(TESTS)
