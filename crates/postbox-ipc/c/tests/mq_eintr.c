/* mq_receive, mq_timedreceive, mq_send and mq_timedsend (mq_receive(3), mq_send(3), signal(7))
 * interrupted by a signal: -1 with EINTR when the handler was installed without SA_RESTART; with
 * SA_RESTART the call goes on waiting (the handler runs). No message is lost or queued twice. */
#include <fcntl.h>
#include <mqueue.h>
#include <sys/wait.h>
#include <time.h>

#include "signals.h"

static struct timespec in_ms(long ms) {
    struct timespec at;
    CHECK(clock_gettime(CLOCK_REALTIME, &at) == 0);
    at.tv_sec += ms / 1000;
    at.tv_nsec += (ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    return at;
}

/* Sends `text` to the queue `name` from a child process after `ms` milliseconds. */
static pid_t send_later(const char *name, const char *text, long ms) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        mqd_t q = mq_open(name, O_WRONLY);
        sleep_ms(ms);
        _exit(q != (mqd_t)-1 && mq_send(q, text, strlen(text), 1) == 0 ? 0 : 1);
    }
    return child;
}

static void reap(pid_t child) {
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/postbox-eintr-%d", (int)getpid());
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = 16;
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHECK(q != (mqd_t)-1);
    char buf[16];
    unsigned prio = 0;
    struct mq_attr now;

    /* Without SA_RESTART: EINTR from each blocked call. */
    handle(SIGALRM, 0);
    caught = 0;
    alarm_in(100);
    FAILS_WITH(EINTR, mq_receive(q, buf, sizeof buf, &prio));
    CHECK(caught == 1);
    struct timespec later = in_ms(5000);
    alarm_in(100);
    FAILS_WITH(EINTR, mq_timedreceive(q, buf, sizeof buf, &prio, &later));
    CHECK(caught == 2);

    CHECK(mq_send(q, "full", 4, 1) == 0);
    alarm_in(100);
    FAILS_WITH(EINTR, mq_send(q, "more", 4, 1));
    CHECK(caught == 3);
    later = in_ms(5000);
    alarm_in(100);
    FAILS_WITH(EINTR, mq_timedsend(q, "more", 4, 1, &later));
    CHECK(caught == 4);
    /* The interrupted sends queued nothing. */
    CHECK(mq_getattr(q, &now) == 0 && now.mq_curmsgs == 1);
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && memcmp(buf, "full", 4) == 0);

    /* With SA_RESTART: the handler runs, the call goes on and gets what comes later. */
    handle(SIGALRM, SA_RESTART);
    caught = 0;
    pid_t child = send_later(name, "late", 400);
    alarm_in(100);
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && memcmp(buf, "late", 4) == 0);
    CHECK(caught == 1);
    reap(child);
    later = in_ms(400);
    alarm_in(100);
    FAILS_WITH(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, &prio, &later));
    CHECK(caught == 2);
    CHECK(mq_send(q, "full", 4, 1) == 0);
    later = in_ms(400);
    alarm_in(100);
    FAILS_WITH(ETIMEDOUT, mq_timedsend(q, "more", 4, 1, &later));
    CHECK(caught == 3);
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && memcmp(buf, "full", 4) == 0);

    /* A signal and a message arriving together: the message is received exactly once. */
    handle(SIGUSR1, 0);
    for (int round = 0; round < 20; round++) {
        pid_t racer = fork();
        CHECK(racer >= 0);
        if (racer == 0) {
            mqd_t w = mq_open(name, O_WRONLY);
            sleep_ms(20);
            kill(getppid(), SIGUSR1);
            _exit(w != (mqd_t)-1 && mq_send(w, "race", 4, 2) == 0 ? 0 : 1);
        }
        ssize_t got = mq_receive(q, buf, sizeof buf, &prio);
        CHECK(got == 4 || (got == -1 && errno == EINTR));
        reap(racer);
        if (got == -1) {
            later = in_ms(0);
            CHECK(mq_timedreceive(q, buf, sizeof buf, &prio, &later) == 4);
        }
        CHECK(prio == 2 && memcmp(buf, "race", 4) == 0);
        CHECK(mq_getattr(q, &now) == 0 && now.mq_curmsgs == 0);
    }

    CHECK(mq_close(q) == 0);
    CHECK(mq_unlink(name) == 0);
    puts("mq_eintr: ok");
    return 0;
}
