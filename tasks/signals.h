// SIGINT and SIGTERM during training: the handler only records the signal; the loop finishes its step,
// writes a checkpoint and stops (exit 128 + signal in the CLI).
#ifndef LRA_TASKS_SIGNALS_H
#define LRA_TASKS_SIGNALS_H

// Installs the handlers (saving the previous ones) and clears any recorded signal.
void lra_stop_signals_catch(void);
// Restores the handlers saved by lra_stop_signals_catch.
void lra_stop_signals_release(void);
// The signal caught since lra_stop_signals_catch (SIGINT or SIGTERM), or 0.
int lra_stop_signal(void);

#endif
