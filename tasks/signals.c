// Stop signals (see signals.h).
#include "tasks/signals.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

// One flag per signal, so that a later, milder signal does not hide an earlier one.
static volatile sig_atomic_t g_int = 0, g_term = 0, g_usr1 = 0;
static struct sigaction g_old_int, g_old_term, g_old_usr1;

static void on_signal(int sig) {
    if (sig == SIGINT) g_int = 1;
    else if (sig == SIGTERM) g_term = 1;
    else if (sig == SIGUSR1) g_usr1 = 1;
}

void lra_stop_signals_catch(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    g_int = g_term = g_usr1 = 0;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
    sigaction(SIGUSR1, &sa, &g_old_usr1);
}

void lra_stop_signals_release(void) {
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
    sigaction(SIGUSR1, &g_old_usr1, NULL);
}

int lra_stop_signal(void) { return g_int ? SIGINT : g_term ? SIGTERM : g_usr1 ? SIGUSR1 : 0; }

const char *lra_stop_signal_name(int sig) {
    static char other[32];
    if (sig == SIGINT) return "SIGINT";
    if (sig == SIGTERM) return "SIGTERM";
    if (sig == SIGUSR1) return "SIGUSR1";
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}
