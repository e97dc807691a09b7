/* msgrcv(2) with MSG_COPY (Linux 3.8, CONFIG_CHECKPOINT_RESTORE): a copy of the message at an
 * index, left in the queue. */
#include "check.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

int main(void) {
    int id = msgget(test_key(1), IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    send_text(id, 5, "first");
    send_text(id, 3, "second");
    struct text_msg m;

    errno = 0;
    if (msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY | IPC_NOWAIT) == -1 && errno == ENOSYS) {
        /* A kernel without CONFIG_CHECKPOINT_RESTORE: nothing to compare with. */
        CHECK(msgctl(id, IPC_RMID, NULL) == 0);
        puts("sysv_copy: ok");
        return 0;
    }
    memset(&m, 0, sizeof m);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 1, MSG_COPY | IPC_NOWAIT) == 6);
    CHECK(m.mtype == 3 && memcmp(m.mtext, "second", 6) == 0);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY | IPC_NOWAIT) == 5 && m.mtype == 5);
    /* Too short a buffer: E2BIG; a copy is never cut (with MSG_NOERROR, EINVAL). */
    FAILS_WITH(E2BIG, msgrcv(id, &m, 2, 0, MSG_COPY | IPC_NOWAIT));
    FAILS_WITH(EINVAL, msgrcv(id, &m, 2, 0, MSG_COPY | IPC_NOWAIT | MSG_NOERROR));
    /* No message at that index; without IPC_NOWAIT, or with MSG_EXCEPT: EINVAL. */
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 2, MSG_COPY | IPC_NOWAIT));
    FAILS_WITH(EINVAL, msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY));
    FAILS_WITH(EINVAL, msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT));

    /* Both messages are still queued, in order. */
    struct msqid_ds ds;
    CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 2);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT) == 5 && m.mtype == 5);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT) == 6 && m.mtype == 3);

    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    puts("sysv_copy: ok");
    return 0;
}
