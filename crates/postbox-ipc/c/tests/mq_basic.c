/* POSIX message queues, as mq_overview(7) and the mq_open(3), mq_send(3), mq_receive(3),
 * mq_getattr(3) and mq_unlink(3) man pages define them. */
#include <fcntl.h>
#include <mqueue.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"

static struct timespec in_ms(long ms) {
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_nsec += ms * 1000000L;
    at.tv_sec += at.tv_nsec / 1000000000L;
    at.tv_nsec %= 1000000000L;
    return at;
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/postbox-test-%d", (int)getpid());
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 64;
    char buf[64];
    unsigned prio = 0;

    /* Opening and creating. */
    FAILS_WITH(ENOENT, mq_open(name, O_RDWR));
    FAILS_WITH(EINVAL, mq_open("no-slash", O_RDWR | O_CREAT, 0600, &attr));
    struct mq_attr bad = attr;
    bad.mq_maxmsg = 0;
    FAILS_WITH(EINVAL, mq_open(name, O_RDWR | O_CREAT, 0600, &bad));
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHECK(q != (mqd_t)-1);
    CHECK(fcntl(q, F_GETFD) >= 0); /* a real descriptor */
    FAILS_WITH(EEXIST, mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
    mqd_t reader = mq_open(name, O_RDONLY);
    mqd_t writer = mq_open(name, O_WRONLY | O_CREAT, 0600, &attr);
    CHECK(reader != (mqd_t)-1 && writer != (mqd_t)-1 && reader != writer);

    struct mq_attr got;
    CHECK(mq_getattr(q, &got) == 0);
    CHECK(got.mq_maxmsg == 4 && got.mq_msgsize == 64 && got.mq_curmsgs == 0 && got.mq_flags == 0);

    /* Priorities: the highest first, the oldest first among equals. */
    CHECK(mq_send(writer, "low", 3, 1) == 0);
    CHECK(mq_send(writer, "high", 4, 5) == 0);
    CHECK(mq_send(writer, "mid", 3, 3) == 0);
    CHECK(mq_send(writer, "high2", 5, 5) == 0);
    CHECK(mq_getattr(q, &got) == 0 && got.mq_curmsgs == 4);
    CHECK(mq_receive(reader, buf, sizeof buf, &prio) == 4 && prio == 5 && memcmp(buf, "high", 4) == 0);
    CHECK(mq_receive(reader, buf, sizeof buf, &prio) == 5 && prio == 5);
    CHECK(mq_receive(reader, buf, sizeof buf, &prio) == 3 && prio == 3);
    CHECK(mq_receive(reader, buf, sizeof buf, NULL) == 3 && memcmp(buf, "low", 3) == 0);

    /* Sizes and priorities out of range; access the descriptor was not opened for. */
    FAILS_WITH(EMSGSIZE, mq_receive(reader, buf, 10, NULL));
    char big[65] = {0};
    FAILS_WITH(EMSGSIZE, mq_send(writer, big, 65, 0));
    FAILS_WITH(EINVAL, mq_send(writer, "x", 1, 32768));
    FAILS_WITH(EBADF, mq_send(reader, "x", 1, 0));
    FAILS_WITH(EBADF, mq_receive(writer, buf, sizeof buf, NULL));

    /* Empty: a timed receive times out, an invalid time is EINVAL. */
    struct timespec soon = in_ms(30);
    FAILS_WITH(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, NULL, &soon));
    struct timespec invalid = {0, 2000000000L};
    FAILS_WITH(EINVAL, mq_timedreceive(q, buf, sizeof buf, NULL, &invalid));

    /* Full: a timed send times out. */
    for (int i = 0; i < 4; i++) {
        CHECK(mq_send(q, "fill", 4, 0) == 0);
    }
    soon = in_ms(30);
    FAILS_WITH(ETIMEDOUT, mq_timedsend(q, "x", 1, 0, &soon));

    /* O_NONBLOCK through mq_setattr: EAGAIN instead of waiting. */
    struct mq_attr nonblock = {0}, old;
    nonblock.mq_flags = O_NONBLOCK;
    CHECK(mq_setattr(q, &nonblock, &old) == 0 && old.mq_flags == 0);
    CHECK(mq_getattr(q, &got) == 0 && got.mq_flags == O_NONBLOCK && got.mq_maxmsg == 4);
    FAILS_WITH(EAGAIN, mq_send(q, "x", 1, 0));
    for (int i = 0; i < 4; i++) {
        CHECK(mq_receive(q, buf, sizeof buf, NULL) == 4);
    }
    FAILS_WITH(EAGAIN, mq_receive(q, buf, sizeof buf, NULL));

    /* A null timeout waits without a limit, as the system calls do (glibc declares it
     * nonnull, but passes it through; LTP calls them so). */
    struct mq_attr blocking = {0};
    CHECK(mq_setattr(q, &blocking, NULL) == 0);
    const struct timespec *volatile no_limit = NULL;
    CHECK(mq_timedsend(q, "null", 4, 1, no_limit) == 0);
    CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, no_limit) == 4);

    /* Out of descriptors: EMFILE (in a child, whose limit goes with it). */
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        struct rlimit none;
        CHECK(getrlimit(RLIMIT_NOFILE, &none) == 0);
        none.rlim_cur = 0;
        CHECK(setrlimit(RLIMIT_NOFILE, &none) == 0);
        _exit(mq_open(name, O_RDWR) == (mqd_t)-1 && errno == EMFILE ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Closing and unlinking. */
    CHECK(mq_close(reader) == 0);
    FAILS_WITH(EBADF, mq_receive(reader, buf, sizeof buf, NULL));
    FAILS_WITH(EBADF, mq_close(reader));
    CHECK(mq_close(writer) == 0);
    CHECK(mq_close(q) == 0);
    CHECK(mq_unlink(name) == 0);
    FAILS_WITH(ENOENT, mq_unlink(name));
    FAILS_WITH(ENOENT, mq_open(name, O_RDWR));
    puts("mq_basic: ok");
    return 0;
}
