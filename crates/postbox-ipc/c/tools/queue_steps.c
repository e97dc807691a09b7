/* Steps on one System V or POSIX queue, each a separate run of this program, so that
 * tests/nodes.rs can run them in turn in processes connected to different nodes: a queue
 * created by a process of node a whose mapping puts it on node b, served by a process of node
 * b with no mapping, finished and removed by node a again. Written from msgget(2), msgop(2),
 * msgctl(2), mq_overview(7) and the mq_*(3) pages; the create, serve and finish steps also run
 * natively, one after another, against the kernel's queues, which proves them right.
 *
 *   sysv-create KEY          creates the queue (KEY in hex), sends types 1, 2 and 3, and an
 *                            IPC_PRIVATE queue; prints "msqid ID" and "private ID"
 *   sysv-serve KEY           typed receives, then sends types 7 and 5
 *   sysv-finish KEY ID PRIV  the same identifier; receives 7 and 5, IPC_STAT, MSG_STAT,
 *                            IPC_SET, a forked child's message, IPC_RMID; the private queue's
 *                            message, IPC_RMID
 *   mq-create /NAME          creates the queue (4 messages of 64 bytes), sends priorities 1, 9, 5
 *   mq-serve /NAME           receives in priority order, ETIMEDOUT, sends priorities 3 and 7
 *   mq-finish /NAME          receives 7 and 3 without blocking, mq_notify, mq_unlink
 *   down KEY /NAME           (preloaded only: node b stops meanwhile) opens both queues, forks
 *                            two children blocked in msgrcv and mq_receive, prints "ready",
 *                            waits for a line on stdin; then every call fails with EIO, and
 *                            so did the children's
 *   pingpong KEY N           N rounds of msgsnd and msgrcv on one queue; prints the time each
 *   unknown-node KEY /NAME   (preloaded only: mapped to a node not linked) ENOENT
 *   bad-map                  (preloaded only: a malformed mapping, or one used with a daemon
 *                            that is no node) every call fails with EINVAL
 *
 * Each prints "STEP: ok" when every check held. */
#include "../tests/check.h"

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static void expect_text(int id, long msgtyp, int flags, long type, const char *text) {
    struct text_msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(id, &m, sizeof m.mtext, msgtyp, flags);
    CHECK(n == (ssize_t)strlen(text));
    CHECK(m.mtype == type);
    CHECK(memcmp(m.mtext, text, (size_t)n) == 0);
}

static void sysv_create(key_t key) {
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    struct msqid_ds ds;
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    CHECK(ds.msg_qnum == 0);
    CHECK(ds.msg_perm.__key == key);
    CHECK((ds.msg_perm.mode & 0777) == 0600);
    send_text(id, 1, "one");
    send_text(id, 2, "two");
    send_text(id, 3, "three");
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    CHECK(ds.msg_qnum == 3);
    CHECK(ds.__msg_cbytes == 11);
    struct text_msg m;
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 9, IPC_NOWAIT));
    FAILS_WITH(EEXIST, msgget(key, IPC_CREAT | IPC_EXCL | 0600));
    int private_id = msgget(IPC_PRIVATE, 0600);
    CHECK(private_id >= 0 && private_id != id);
    send_text(private_id, 4, "private");
    printf("msqid %d\nprivate %d\n", id, private_id);
}

static void sysv_serve(key_t key) {
    int id = msgget(key, 0);
    CHECK(id >= 0);
    expect_text(id, 2, 0, 2, "two");
    expect_text(id, -3, 0, 1, "one"); /* the lowest type at most 3 */
    struct text_msg m;
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 3, MSG_EXCEPT | IPC_NOWAIT));
    FAILS_WITH(E2BIG, msgrcv(id, &m, 2, 0, IPC_NOWAIT)); /* left queued */
    expect_text(id, 0, IPC_NOWAIT, 3, "three");
    send_text(id, 7, "back");
    send_text(id, 5, "five");
}

static void sysv_finish(key_t key, int created, int private_id) {
    int id = msgget(key, 0);
    CHECK(id == created); /* the same identifier in every process */
    struct msqid_ds ds;
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    CHECK(ds.msg_qnum == 2);
    CHECK(ds.msg_stime != 0 && ds.msg_rtime != 0);
    /* On Linux the index is the identifier's low bits: MSG_STAT finds the queue by it. */
    memset(&ds, 0, sizeof ds);
    CHECK(msgctl(id, MSG_STAT, &ds) == id);
    CHECK(ds.msg_perm.__key == key && ds.msg_qnum == 2);
    expect_text(id, 7, 0, 7, "back");
    expect_text(id, 0, 0, 5, "five");
    struct text_msg m;
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));

    ds.msg_perm.mode = 0640;
    CHECK(msgctl(id, IPC_SET, &ds) == 0);
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    CHECK((ds.msg_perm.mode & 0777) == 0640);

    /* A child sends by identifier to the parent, which waits for that type. */
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        send_text(id, 8, "from the child");
        _exit(0);
    }
    expect_text(id, 8, 0, 8, "from the child");
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    FAILS_WITH(ENOENT, msgget(key, 0));
    FAILS_WITH(EINVAL, msgsnd(id, &m, 1, IPC_NOWAIT));

    expect_text(private_id, 0, IPC_NOWAIT, 4, "private");
    CHECK(msgctl(private_id, IPC_RMID, NULL) == 0);
}

static void mq_send_text(mqd_t q, const char *text, unsigned prio) {
    CHECK(mq_send(q, text, strlen(text), prio) == 0);
}

static void mq_expect(mqd_t q, const char *text, unsigned prio) {
    char buf[64];
    unsigned got = 0;
    ssize_t n = mq_receive(q, buf, sizeof buf, &got);
    CHECK(n == (ssize_t)strlen(text));
    CHECK(memcmp(buf, text, (size_t)n) == 0);
    CHECK(got == prio);
}

static void mq_create(const char *name) {
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_WRONLY | O_CREAT | O_EXCL, 0600, &attr);
    CHECK(q != (mqd_t)-1);
    mq_send_text(q, "low", 1);
    mq_send_text(q, "high", 9);
    mq_send_text(q, "mid", 5);
    struct mq_attr now;
    CHECK(mq_getattr(q, &now) == 0);
    CHECK(now.mq_maxmsg == 4 && now.mq_msgsize == 64 && now.mq_curmsgs == 3);
    CHECK(mq_close(q) == 0);
}

static void mq_serve(const char *name) {
    mqd_t q = mq_open(name, O_RDWR);
    CHECK(q != (mqd_t)-1);
    struct mq_attr now;
    CHECK(mq_getattr(q, &now) == 0);
    CHECK(now.mq_maxmsg == 4 && now.mq_msgsize == 64 && now.mq_curmsgs == 3);
    mq_expect(q, "high", 9);
    mq_expect(q, "mid", 5);
    mq_expect(q, "low", 1);
    char buf[64];
    struct timespec past = {.tv_sec = 1, .tv_nsec = 0};
    FAILS_WITH(ETIMEDOUT, mq_timedreceive(q, buf, sizeof buf, NULL, &past));
    mq_send_text(q, "reply", 3);
    mq_send_text(q, "urgent", 7);
    CHECK(mq_close(q) == 0);
}

static void mq_finish(const char *name) {
    mqd_t q = mq_open(name, O_RDONLY);
    CHECK(q != (mqd_t)-1);
    struct mq_attr nonblock = {.mq_flags = O_NONBLOCK}, old;
    CHECK(mq_setattr(q, &nonblock, &old) == 0);
    CHECK(old.mq_flags == 0 && old.mq_curmsgs == 2);
    mq_expect(q, "urgent", 7);
    mq_expect(q, "reply", 3);
    char buf[64];
    FAILS_WITH(EAGAIN, mq_receive(q, buf, sizeof buf, NULL));

    /* A notification for a message arriving on the empty queue. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 42;
    CHECK(mq_notify(q, &ev) == 0);
    mqd_t writer = mq_open(name, O_WRONLY);
    CHECK(writer != (mqd_t)-1);
    mq_send_text(writer, "ping", 2);
    struct timespec patience = {.tv_sec = 20, .tv_nsec = 0};
    siginfo_t info;
    CHECK(sigtimedwait(&usr1, &info, &patience) == SIGUSR1);
    CHECK(info.si_code == SI_MESGQ);
    CHECK(info.si_value.sival_int == 42);
    mq_expect(q, "ping", 2);

    CHECK(mq_close(writer) == 0);
    CHECK(mq_close(q) == 0);
    CHECK(mq_unlink(name) == 0);
    FAILS_WITH(ENOENT, mq_open(name, O_RDONLY));
    FAILS_WITH(ENOENT, mq_unlink(name));
}

/* A child that waits in msgrcv (`posix` false) or mq_receive on a queue while its node goes
 * down: the call must fail with EIO. */
static pid_t blocked_child(int id, const char *name, int posix) {
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        if (posix) {
            mqd_t q = mq_open(name, O_RDONLY);
            CHECK(q != (mqd_t)-1);
            char buf[8192];
            FAILS_WITH(EIO, mq_receive(q, buf, sizeof buf, NULL));
        } else {
            struct text_msg m;
            FAILS_WITH(EIO, msgrcv(id, &m, sizeof m.mtext, 0, 0));
        }
        _exit(0);
    }
    return child;
}

/* Preloaded only: node b, where both queues are mapped, is stopped while this waits on stdin
 * (tests/nodes.rs stops it once b shows both children waiting). */
static void down(key_t key, const char *name) {
    int id = msgget(key, IPC_CREAT | 0600);
    CHECK(id >= 0);
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_NONBLOCK, 0600, NULL);
    CHECK(q != (mqd_t)-1);
    pid_t children[2] = {blocked_child(id, name, 0), blocked_child(id, name, 1)};
    printf("ready\n");
    fflush(stdout);
    char line[16];
    CHECK(fgets(line, sizeof line, stdin) != NULL);
    struct text_msg m = {.mtype = 1};
    struct msqid_ds ds;
    FAILS_WITH(EIO, msgsnd(id, &m, 1, IPC_NOWAIT));
    FAILS_WITH(EIO, msgsnd(id, &m, 1, 0));
    FAILS_WITH(EIO, msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));
    FAILS_WITH(EIO, msgrcv(id, &m, sizeof m.mtext, 0, 0));
    FAILS_WITH(EIO, msgctl(id, IPC_STAT, &ds));
    FAILS_WITH(EIO, msgget(key, 0));
    char buf[8192];
    FAILS_WITH(EIO, mq_send(q, "x", 1, 0));
    FAILS_WITH(EIO, mq_receive(q, buf, sizeof buf, NULL));
    struct mq_attr attr;
    FAILS_WITH(EIO, mq_getattr(q, &attr));
    FAILS_WITH(EIO, mq_open(name, O_RDONLY));
    FAILS_WITH(EIO, mq_unlink(name));
    for (int i = 0; i < 2; i++) {
        int status = 0;
        CHECK(waitpid(children[i], &status, 0) == children[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

/* `rounds` rounds of a send and a receive on the queue of `key`, which is removed after. */
static void pingpong(key_t key, int rounds) {
    int id = msgget(key, IPC_CREAT | 0600);
    CHECK(id >= 0 && rounds > 0);
    struct timespec start, end;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &start) == 0);
    for (int i = 0; i < rounds; i++) {
        send_text(id, 1, "ping");
        expect_text(id, 0, 0, 1, "ping");
    }
    CHECK(clock_gettime(CLOCK_MONOTONIC, &end) == 0);
    double ns = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
    double us = ns / 1e3 / rounds;
    printf("pingpong: %d rounds, %.1f us each (msgsnd and msgrcv)\n", rounds, us);
    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
}

/* Preloaded only: the mapping names a node the daemon does not link with. */
static void unknown_node(key_t key, const char *name) {
    FAILS_WITH(ENOENT, msgget(key, IPC_CREAT | 0600));
    FAILS_WITH(ENOENT, msgget(key, 0));
    FAILS_WITH(ENOENT, mq_open(name, O_RDWR | O_CREAT, 0600, NULL));
}

/* Preloaded only: the mapping is malformed, or the daemon is no node. */
static void bad_map(void) {
    struct text_msg m = {.mtype = 1};
    FAILS_WITH(EINVAL, msgget(0x1234, IPC_CREAT | 0600));
    FAILS_WITH(EINVAL, msgsnd(1, &m, 1, IPC_NOWAIT));
    FAILS_WITH(EINVAL, mq_open("/anything", O_RDONLY));
    FAILS_WITH(EINVAL, mq_unlink("/anything"));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s STEP ARGS...\n", argv[0]);
        return 2;
    }
    const char *step = argv[1];
    key_t key = argc > 2 ? (key_t)strtoul(argv[2], NULL, 16) : 0;
    if (strcmp(step, "sysv-create") == 0 && argc == 3) {
        sysv_create(key);
    } else if (strcmp(step, "sysv-serve") == 0 && argc == 3) {
        sysv_serve(key);
    } else if (strcmp(step, "sysv-finish") == 0 && argc == 5) {
        sysv_finish(key, atoi(argv[3]), atoi(argv[4]));
    } else if (strcmp(step, "mq-create") == 0 && argc == 3) {
        mq_create(argv[2]);
    } else if (strcmp(step, "mq-serve") == 0 && argc == 3) {
        mq_serve(argv[2]);
    } else if (strcmp(step, "mq-finish") == 0 && argc == 3) {
        mq_finish(argv[2]);
    } else if (strcmp(step, "down") == 0 && argc == 4) {
        down(key, argv[3]);
    } else if (strcmp(step, "unknown-node") == 0 && argc == 4) {
        unknown_node(key, argv[3]);
    } else if (strcmp(step, "pingpong") == 0 && argc == 4) {
        pingpong(key, atoi(argv[3]));
    } else if (strcmp(step, "bad-map") == 0 && argc == 2) {
        bad_map();
    } else {
        fprintf(stderr, "unknown step or arguments: %s\n", step);
        return 2;
    }
    printf("%s: ok\n", step);
    return 0;
}
