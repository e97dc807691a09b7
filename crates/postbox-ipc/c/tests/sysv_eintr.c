/* msgrcv(2) and msgsnd(2) interrupted by a signal: -1 with EINTR whether or not the handler was
 * installed with SA_RESTART (signal(7): System V IPC calls are never restarted), the message of
 * an interrupted msgsnd not queued, and no message lost when one arrives with the signal. */
#include <sys/wait.h>

#include "signals.h"

int main(void) {
    int id = msgget(test_key(1), IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    struct text_msg m;
    struct msqid_ds ds;

    /* A receive on an empty queue, interrupted by SIGALRM, with and without SA_RESTART; a
     * typed receive into a short buffer too. */
    handle(SIGALRM, 0);
    caught = 0;
    alarm_in(100);
    FAILS_WITH(EINTR, msgrcv(id, &m, sizeof m.mtext, 0, 0));
    CHECK(caught == 1);
    handle(SIGALRM, SA_RESTART);
    caught = 0;
    alarm_in(100);
    FAILS_WITH(EINTR, msgrcv(id, &m, sizeof m.mtext, 0, 0));
    CHECK(caught == 1);
    alarm_in(100);
    FAILS_WITH(EINTR, msgrcv(id, &m, 4, 5, 0));
    CHECK(caught == 2);

    /* The interrupted receives took nothing: a message sent now is there for the next. */
    send_text(id, 7, "after");
    CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 1);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT) == 5 && m.mtype == 7);

    /* A send waiting for room, interrupted: its message is not queued. The queue is filled
     * with messages of 1 KiB until it takes no more. */
    struct {
        long mtype;
        char mtext[1024];
    } block = {1, {0}};
    unsigned long full = 0;
    while (msgsnd(id, &block, sizeof block.mtext, IPC_NOWAIT) == 0) {
        full++;
    }
    CHECK(errno == EAGAIN && full > 0);
    handle(SIGALRM, 0);
    caught = 0;
    alarm_in(100);
    FAILS_WITH(EINTR, msgsnd(id, &block, sizeof block.mtext, 0));
    CHECK(caught == 1);
    CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == full);
    while (full-- > 0) {
        CHECK(msgrcv(id, &block, sizeof block.mtext, 0, IPC_NOWAIT) == sizeof block.mtext);
    }

    /* A signal and a message arriving together, from another process, again and again: the
     * receive returns either the message or EINTR, and then the message is still there —
     * never lost, never twice. */
    handle(SIGUSR1, 0);
    for (int round = 0; round < 20; round++) {
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) {
            struct text_msg c = {3, "race"};
            sleep_ms(20);
            kill(getppid(), SIGUSR1);
            _exit(msgsnd(id, &c, 4, 0) == 0 ? 0 : 1);
        }
        caught = 0;
        ssize_t got = msgrcv(id, &m, sizeof m.mtext, 0, 0);
        CHECK(got == 4 || (got == -1 && errno == EINTR));
        int status = 0;
        CHECK(waitpid(child, &status, 0) == child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (got == -1) {
            CHECK(msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT) == 4);
        }
        CHECK(m.mtype == 3 && memcmp(m.mtext, "race", 4) == 0);
        FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));
    }

    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    puts("sysv_eintr: ok");
    return 0;
}
