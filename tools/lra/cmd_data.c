// `lra data generate listops|pathfinder ...` and `lra data inspect TASK PATH`.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fileio.h"
#include "core/threads.h"
#include "data/listops_gen.h"
#include "data/load.h"
#include "tasks/task.h"
#include "data/pathfinder_gen.h"
#include "tools/lra/args.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: lra data generate listops --out DIR [--seed N] [--train N] [--val N] [--test N]\n"
            "                                 [--max-depth N] [--max-args N] [--min-length N] [--max-length N]\n"
            "                                 [--compat]\n"
            "       lra data generate pathfinder --out DIR [--seed N] [--size 32|64|128|256] [--contour 6|9|14]\n"
            "                                 [--images N] [--batch K] [--zero-border] [--compat] [--threads N]\n"
            "       lra data inspect TASK PATH [--split train|val|test]\n\n"
            "generate writes the synthetic tasks in the LRA release layout (listops: basic_{train,val,test}.tsv;\n"
            "pathfinder: <difficulty>/imgs/<batch>/sample_<i>.png and metadata/<batch>.npy).  --compat emulates the\n"
            "original programs' random number generators (Python's random for ListOps, numpy's legacy generator for\n"
            "Pathfinder), so their outputs are reproduced exactly; the default draws from Philox and runs in parallel.\n"
            "--threads N (pathfinder): 0, the default, means all cores.\n"
            "inspect prints counts, the label histogram and length statistics of a task's splits.\n");
}

static int gen_listops(int argc, char **argv) {
    lra_listops_gen_options o;
    lra_listops_gen_defaults(&o);
    const char *out = NULL, *v;
    for (int i = 0; i < argc; i++) {
        int m;
        int64_t x;
        if (lra_arg_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--out", &v))) {
            if (m < 0) return 2;
            out = v;
        } else if (lra_arg_flag(argv[i], "--compat")) {
            o.compat_python = 1;
        } else if ((m = lra_arg_value(argc, argv, &i, "--seed", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--seed", v, 0, &x)) return 2;
            o.seed = (uint64_t)x;
        } else if ((m = lra_arg_value(argc, argv, &i, "--train", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--train", v, 0, &o.n_train)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--val", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--val", v, 0, &o.n_val)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--test", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--test", v, 0, &o.n_test)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--max-depth", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--max-depth", v, 1, &x)) return 2;
            o.max_depth = (int)x;
        } else if ((m = lra_arg_value(argc, argv, &i, "--max-args", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--max-args", v, 2, &x)) return 2;
            o.max_args = (int)x;
        } else if ((m = lra_arg_value(argc, argv, &i, "--min-length", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--min-length", v, 0, &x)) return 2;
            o.min_length = (int)x;
        } else if ((m = lra_arg_value(argc, argv, &i, "--max-length", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--max-length", v, 1, &x)) return 2;
            o.max_length = (int)x;
        } else {
            return lra_arg_unknown("data generate listops", argv[i]);
        }
    }
    if (!out) {
        fprintf(stderr, "lra data generate listops: --out DIR is required\n");
        return 2;
    }
    double t0 = now_s();
    if (lra_path_mkdirs(out) || lra_listops_generate(&o, out) ||
        lra_data_mark_generated(out, "lra data generate listops"))
        return lra_arg_fail("data generate listops");
    printf("listops: %lld / %lld / %lld rows written to %s/basic_{train,val,test}.tsv in %.2f s%s\n",
           (long long)o.n_train, (long long)o.n_val, (long long)o.n_test, out, now_s() - t0,
           o.compat_python ? " (Python-compatible random numbers)" : "");
    return 0;
}

static int gen_pathfinder(int argc, char **argv) {
    const char *out = NULL, *v;
    int64_t size = 32, contour = 14, images = 1000, batch = 0, seed = 0, threads = 0;
    int compat = 0, zero_border = 0;
    for (int i = 0; i < argc; i++) {
        int m;
        if (lra_arg_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--out", &v))) {
            if (m < 0) return 2;
            out = v;
        } else if (lra_arg_flag(argv[i], "--compat")) {
            compat = 1;
        } else if (lra_arg_flag(argv[i], "--zero-border")) {
            zero_border = 1;
        } else if ((m = lra_arg_value(argc, argv, &i, "--seed", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--seed", v, 0, &seed)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--size", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--size", v, 1, &size)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--contour", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--contour", v, 1, &contour)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--images", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--images", v, 1, &images)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--batch", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--batch", v, 0, &batch)) return 2;
        } else if ((m = lra_arg_value(argc, argv, &i, "--threads", &v))) {
            if (m < 0 || !lra_arg_int("data generate", "--threads", v, 0, &threads)) return 2;
        } else {
            return lra_arg_unknown("data generate pathfinder", argv[i]);
        }
    }
    if (!out) {
        fprintf(stderr, "lra data generate pathfinder: --out DIR is required\n");
        return 2;
    }
    lra_pathfinder_gen_options o;
    memset(&o, 0, sizeof o);
    if (lra_pathfinder_params_preset(&o.params, (int)size, (int)contour)) return lra_arg_fail("data generate pathfinder");
    if (zero_border) o.params.opencv_border = 0;
    o.rng = compat ? LRA_PF_RNG_COMPAT : LRA_PF_RNG_PHILOX;
    o.seed = (uint64_t)seed;
    o.batch = (int)batch;
    o.n_images = (int)images;
    o.threads = (int)threads;
    lra_threads_set((int)threads);
    double t0 = now_s();
    if (lra_path_mkdirs(out) || lra_pathfinder_generate(&o, out) ||
        lra_data_mark_generated(out, "lra data generate pathfinder"))
        return lra_arg_fail("data generate pathfinder");
    double dt = now_s() - t0;
    printf("pathfinder%lld (contour %lld): %lld images in %.2f s (%.0f images/s, %d threads) under %s/%s\n",
           (long long)size, (long long)contour, (long long)images, dt, images / dt, compat ? 1 : lra_threads_get(), out,
           lra_pathfinder_difficulty_name((int)contour) ? lra_pathfinder_difficulty_name((int)contour) : "?");
    return 0;
}

static void print_stats(const char *split, const lra_dataset *ds) {
    int64_t hist[64] = {0}, minl = INT64_MAX, maxl = 0;
    double suml = 0;
    for (int64_t i = 0; i < ds->count; i++) {
        if (ds->labels[i] >= 0 && ds->labels[i] < 64) hist[ds->labels[i]]++;
        for (int s = 0; s < ds->n_seq; s++) {
            int64_t l = lra_dataset_len(ds, i, s);
            suml += l;
            if (l < minl) minl = l;
            if (l > maxl) maxl = l;
        }
    }
    printf("%-5s %8lld examples  length min %lld mean %.1f max %lld  labels:", split, (long long)ds->count,
           (long long)(ds->count ? minl : 0), ds->count ? suml / (ds->count * ds->n_seq) : 0.0, (long long)maxl);
    for (int c = 0; c < ds->num_classes && c < 64; c++) printf(" %d:%lld", c, (long long)hist[c]);
    printf("\n");
}

static int inspect(int argc, char **argv) {
    const char *task = NULL, *path = NULL, *only = NULL, *v;
    for (int i = 0; i < argc; i++) {
        int m;
        if (lra_arg_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if ((m = lra_arg_value(argc, argv, &i, "--split", &v))) {
            if (m < 0) return 2;
            only = v;
        } else if (argv[i][0] == '-') {
            return lra_arg_unknown("data inspect", argv[i]);
        } else if (!task) {
            task = argv[i];
        } else if (!path) {
            path = argv[i];
        } else {
            return lra_arg_unknown("data inspect", argv[i]);
        }
    }
    if (!task || !path) {
        fprintf(stderr, "usage: lra data inspect TASK PATH [--split train|val|test]\n");
        return 2;
    }
    printf("%s at %s\n", task, path);
    for (int s = 0; s < 3; s++) {
        if (only && strcmp(only, lra_split_name((lra_split)s))) continue;
        lra_dataset ds;
        memset(&ds, 0, sizeof ds);
        if (lra_task_load(task, path, (lra_split)s, NULL, &ds)) {
            lra_dataset_free(&ds);
            return lra_arg_fail("data inspect");
        }
        print_stats(lra_split_name((lra_split)s), &ds);
        lra_dataset_free(&ds);
    }
    return 0;
}

int lra_cmd_data(int argc, char **argv) {
    if (argc < 2 || lra_arg_flag(argv[1], "--help") || lra_arg_flag(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "generate")) {
        if (argc < 3 || lra_arg_is_help(argv[2])) {
            usage(argc < 3 ? stderr : stdout);
            return argc < 3 ? 2 : 0;
        }
        if (!strcmp(argv[2], "listops")) return gen_listops(argc - 3, argv + 3);
        if (!strcmp(argv[2], "pathfinder")) return gen_pathfinder(argc - 3, argv + 3);
        fprintf(stderr, "lra data generate: unknown generator '%s' (expected listops or pathfinder)\n", argv[2]);
        return 2;
    }
    if (!strcmp(argv[1], "inspect")) return inspect(argc - 2, argv + 2);
    fprintf(stderr, "lra data: unknown sub-command '%s' (expected generate or inspect)\n", argv[1]);
    return 2;
}
