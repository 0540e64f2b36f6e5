// Registry of sub-commands.
#include "tools/lra/commands.h"

#include <stddef.h>

int lra_cmd_train(int argc, char **argv);
int lra_cmd_eval(int argc, char **argv);
int lra_cmd_table(int argc, char **argv);
int lra_cmd_plot(int argc, char **argv);
int lra_cmd_sweep(int argc, char **argv);
int lra_cmd_attention(int argc, char **argv);
int lra_cmd_data(int argc, char **argv);
int lra_cmd_bench(int argc, char **argv);
int lra_cmd_export(int argc, char **argv);
int lra_cmd_import(int argc, char **argv);

const lra_command lra_commands[] = {
    {"train", "train a model from a YAML config (resumable)", lra_cmd_train},
    {"eval", "score a run's checkpoint on the val or test split", lra_cmd_eval},
    {"table", "accuracy table of finished runs (markdown, CSV or LaTeX; --reference: a paper's)", lra_cmd_table},
    {"plot", "learning curves of runs (loss, accuracy against step and wall time) as SVG and PNG", lra_cmd_plot},
    {"sweep", "run a grid of runs (tasks x kernels x seeds x overrides); resumable; --jobs/--sbatch", lra_cmd_sweep},
    {"data", "generate ListOps/Pathfinder data; inspect a task's splits", lra_cmd_data},
    {"export", "write a checkpoint's weights as safetensors (PyTorch names)", lra_cmd_export},
    {"import", "load safetensors weights into a checkpoint", lra_cmd_import},
    {"attention", "list the attention kernels and their options", lra_cmd_attention},
    {"bench", "benchmarks: attention approximation error, kernel time/memory, training steps", lra_cmd_bench},
    {NULL, NULL, NULL},
};
