/* Signal helpers for the EINTR tests: a counting handler, installed with or without SA_RESTART,
 * and a one-shot SIGALRM timer. */
#ifndef POSTBOX_SIGNALS_H
#define POSTBOX_SIGNALS_H

#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "check.h"

static volatile sig_atomic_t caught;

static void count_signal(int signal) {
    (void)signal;
    caught++;
}

/* Installs the counting handler for `signal` with `flags` (0 or SA_RESTART). */
static inline void handle(int signal, int flags) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = count_signal;
    action.sa_flags = flags;
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(signal, &action, NULL) == 0);
}

/* SIGALRM in `ms` milliseconds (0 disarms). */
static inline void alarm_in(long ms) {
    struct itimerval timer;
    memset(&timer, 0, sizeof timer);
    timer.it_value.tv_sec = ms / 1000;
    timer.it_value.tv_usec = (ms % 1000) * 1000;
    CHECK(setitimer(ITIMER_REAL, &timer, NULL) == 0);
}

static inline void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

#endif
