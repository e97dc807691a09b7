/* mq_notify(3): one process registered per queue (EBUSY for any other registration), told once
 * when a message arrives on the empty queue and no receiver is waiting: by a signal (si_code
 * SI_MESGQ, si_value, si_pid), by a function on a new thread, or not at all (SIGEV_NONE);
 * unregistering with NULL. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "signals.h"

static volatile sig_atomic_t notified, notified_code, notified_value, notified_pid;
static atomic_int thread_value;

static void on_notify(int signal, siginfo_t *info, void *context) {
    (void)signal;
    (void)context;
    notified++;
    notified_code = info->si_code;
    notified_value = info->si_value.sival_int;
    notified_pid = info->si_pid;
}

static void on_thread(union sigval value) {
    atomic_store(&thread_value, value.sival_int);
}

/* Waits up to two seconds for the `count`th notification; whether it came. */
static int notified_times(int count) {
    for (long waited = 0; notified < count && waited < 2000; waited += 10) {
        sleep_ms(10);
    }
    return notified == count;
}

static struct sigevent by_signal(int value) {
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = SIGUSR1;
    event.sigev_value.sival_int = value;
    return event;
}

/* Whether another process gets EBUSY registering on queue `name`. */
static int busy_for_others(const char *name) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        mqd_t q = mq_open(name, O_RDONLY);
        struct sigevent event = by_signal(0);
        _exit(q != (mqd_t)-1 && mq_notify(q, &event) == -1 && errno == EBUSY ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/postbox-notify-%d", (int)getpid());
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 16;
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHECK(q != (mqd_t)-1);
    char buf[16];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_notify;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGUSR1, &action, NULL) == 0);

    /* Errors. */
    struct sigevent event = by_signal(42);
    FAILS_WITH(EBADF, mq_notify((mqd_t)12345, &event));
    struct sigevent bad = event;
    bad.sigev_notify = 12345;
    FAILS_WITH(EINVAL, mq_notify(q, &bad));
    FAILS_WITH(EINVAL, mq_notify((mqd_t)12345, &bad)); /* the event is checked first */

    /* SIGEV_SIGNAL: registered, others busy (this process too), told once. */
    CHECK(mq_notify(q, &event) == 0);
    FAILS_WITH(EBUSY, mq_notify(q, &event));
    CHECK(busy_for_others(name));
    CHECK(mq_send(q, "one", 3, 1) == 0);
    CHECK(notified_times(1));
    CHECK(notified_code == SI_MESGQ && notified_value == 42);
    CHECK(notified_pid == getpid());
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 3);
    CHECK(mq_send(q, "two", 3, 1) == 0); /* one-shot: no second signal */
    sleep_ms(300);
    CHECK(notified == 1);
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 3);

    /* Unregistering with NULL: no signal, and the queue is free to register again. */
    CHECK(mq_notify(q, &event) == 0);
    CHECK(mq_notify(q, NULL) == 0);
    CHECK(!busy_for_others(name));
    CHECK(mq_send(q, "three", 5, 1) == 0);
    sleep_ms(300);
    CHECK(notified == 1);

    /* Registered on a queue holding a message: no notification until a message arrives on it
     * empty. */
    CHECK(mq_notify(q, &event) == 0);
    CHECK(mq_send(q, "four", 4, 1) == 0);
    sleep_ms(300);
    CHECK(notified == 1);
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 5);
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 4);
    sleep_ms(100);
    CHECK(mq_send(q, "five", 4, 1) == 0);
    CHECK(notified_times(2));
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 4);

    /* A receiver waiting in mq_receive gets the message; nobody is notified, and the
     * registration stays. */
    CHECK(mq_notify(q, &event) == 0);
    pid_t receiver = fork();
    CHECK(receiver >= 0);
    if (receiver == 0) {
        mqd_t r = mq_open(name, O_RDONLY);
        _exit(r != (mqd_t)-1 && mq_receive(r, buf, sizeof buf, NULL) == 3 ? 0 : 1);
    }
    sleep_ms(300);
    CHECK(mq_send(q, "six", 3, 1) == 0);
    int status = 0;
    CHECK(waitpid(receiver, &status, 0) == receiver);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sleep_ms(300);
    CHECK(notified == 2);
    FAILS_WITH(EBUSY, mq_notify(q, &event));
    CHECK(mq_notify(q, NULL) == 0);

    /* SIGEV_NONE: registered (others busy), nothing sent, and the registration ends when a
     * message arrives. */
    struct sigevent none;
    memset(&none, 0, sizeof none);
    none.sigev_notify = SIGEV_NONE;
    CHECK(mq_notify(q, &none) == 0);
    CHECK(busy_for_others(name));
    CHECK(mq_send(q, "seven", 5, 1) == 0);
    sleep_ms(300);
    CHECK(notified == 2);
    CHECK(mq_notify(q, &event) == 0);
    CHECK(mq_notify(q, NULL) == 0);
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 5);

    /* SIGEV_THREAD: the function runs with the value. */
    struct sigevent threaded;
    memset(&threaded, 0, sizeof threaded);
    threaded.sigev_notify = SIGEV_THREAD;
    threaded.sigev_notify_function = on_thread;
    threaded.sigev_value.sival_int = 7;
    CHECK(mq_notify(q, &threaded) == 0);
    CHECK(mq_send(q, "eight", 5, 1) == 0);
    for (int waited = 0; atomic_load(&thread_value) == 0 && waited < 2000; waited += 10) {
        sleep_ms(10);
    }
    CHECK(atomic_load(&thread_value) == 7);
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 5);

    /* mq_close ends the registration. */
    CHECK(mq_notify(q, &event) == 0);
    CHECK(mq_close(q) == 0);
    CHECK(!busy_for_others(name));

    CHECK(mq_unlink(name) == 0);
    puts("mq_notify: ok");
    return 0;
}
