// Stop signals during training: SIGINT (Ctrl-C), SIGTERM (what a scheduler sends at a time limit or
// on pre-emption) and SIGUSR1 (what `sbatch --signal=USR1@T` sends ahead of the limit).  The handler
// only records the signal; the loop finishes its step, writes a checkpoint and stops, and a dev
// evaluation in progress stops at its next batch (cmd_train maps the stop to an exit code).
#ifndef LRA_TASKS_SIGNALS_H
#define LRA_TASKS_SIGNALS_H

// Installs the handlers (saving the previous ones) and clears any recorded signal.
void lra_stop_signals_catch(void);
// Restores the handlers saved by lra_stop_signals_catch.
void lra_stop_signals_release(void);
// The signal caught since lra_stop_signals_catch (SIGINT, SIGTERM or SIGUSR1), or 0.  When several
// arrived, SIGINT wins over SIGTERM over SIGUSR1 (an interactive Ctrl-C says the most).
int lra_stop_signal(void);
// "SIGINT", "SIGTERM", "SIGUSR1" or "signal N".
const char *lra_stop_signal_name(int sig);

#endif
