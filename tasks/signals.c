// Stop signals (see signals.h).
#include "tasks/signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t g_signal = 0;
static struct sigaction g_old_int, g_old_term;

static void on_signal(int sig) { g_signal = sig; }

void lra_stop_signals_catch(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    g_signal = 0;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
}

void lra_stop_signals_release(void) {
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
}

int lra_stop_signal(void) { return g_signal; }
