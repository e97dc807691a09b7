/* msgctl(2)'s IPC_INFO, MSG_INFO, MSG_STAT and MSG_STAT_ANY: the limits, the usage of all
 * queues, and a queue's status by index, returning its identifier. */
#include "check.h"

/* IPC_INFO and MSG_INFO fill a struct msginfo where a struct msqid_ds would be. */
static int info(int cmd, struct msginfo *out) {
    return msgctl(0, cmd, (struct msqid_ds *)out);
}

/* The index MSG_STAT (or MSG_STAT_ANY) finds queue `id` at, or -1. */
static int index_of(int cmd, int id, int max_index, struct msqid_ds *ds) {
    for (int index = 0; index <= max_index; index++) {
        if (msgctl(index, cmd, ds) == id) {
            return index;
        }
    }
    return -1;
}

int main(void) {
    struct msginfo limits;
    memset(&limits, 0, sizeof limits);
    CHECK(info(IPC_INFO, &limits) >= 0);
    /* msgmax is the largest message the queues take (the shim caps it; see docs/compat.md). */
    CHECK(limits.msgmax > 0);
    CHECK((size_t)limits.msgmax <= proc_limit("/proc/sys/kernel/msgmax", 8192));
    CHECK((size_t)limits.msgmnb == proc_limit("/proc/sys/kernel/msgmnb", 16384));
    CHECK((size_t)limits.msgmni == proc_limit("/proc/sys/kernel/msgmni", 32000));
    CHECK(limits.msgssz == 16 && limits.msgseg == 0xffff);

    int first = msgget(test_key(1), IPC_CREAT | IPC_EXCL | 0600);
    int second = msgget(test_key(2), IPC_CREAT | IPC_EXCL | 0000);
    CHECK(first >= 0 && second >= 0);
    struct text_msg *big = calloc(1, sizeof(long) + (size_t)limits.msgmax + 1);
    CHECK(big != NULL);
    big->mtype = 1;
    FAILS_WITH(EINVAL, msgsnd(first, big, (size_t)limits.msgmax + 1, IPC_NOWAIT));
    CHECK(msgsnd(first, big, (size_t)limits.msgmax, IPC_NOWAIT) == 0);
    CHECK(msgrcv(first, big, (size_t)limits.msgmax, 0, IPC_NOWAIT) == limits.msgmax);
    free(big);
    send_text(first, 1, "abc");
    send_text(first, 2, "defgh");
    send_text(second, 1, "ijkl");

    struct msginfo usage;
    memset(&usage, 0, sizeof usage);
    int max_index = info(MSG_INFO, &usage);
    CHECK(max_index >= 1);
    CHECK(usage.msgpool >= 2 && usage.msgmap >= 3 && usage.msgtql >= 12);
    CHECK(usage.msgmax == limits.msgmax && usage.msgmnb == limits.msgmnb);

    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    int at = index_of(MSG_STAT, first, max_index, &ds);
    CHECK(at >= 0);
    CHECK(ds.msg_perm.__key == test_key(1) && ds.msg_qnum == 2 && ds.msg_cbytes == 8);
    CHECK((ds.msg_perm.mode & 0777) == 0600 && ds.msg_perm.uid == geteuid());
    /* A queue nobody may read: MSG_STAT needs read permission (root has it anyway),
     * MSG_STAT_ANY does not. */
    memset(&ds, 0, sizeof ds);
    at = index_of(MSG_STAT_ANY, second, max_index, &ds);
    CHECK(at >= 0 && ds.msg_perm.__key == test_key(2) && ds.msg_qnum == 1);
    if (geteuid() == 0) {
        CHECK(msgctl(at, MSG_STAT, &ds) == second);
    } else {
        FAILS_WITH(EACCES, msgctl(at, MSG_STAT, &ds));
    }

    /* A queue's identifier is an index that finds it (on Linux its low bits are the index). */
    CHECK(msgctl(first, MSG_STAT, &ds) == first && ds.msg_perm.__key == test_key(1));

    /* Past the highest index, and a negative one. */
    FAILS_WITH(EINVAL, msgctl(max_index + 1, MSG_STAT, &ds));
    FAILS_WITH(EINVAL, msgctl(-1, MSG_STAT, &ds));

    CHECK(msgctl(first, IPC_RMID, NULL) == 0);
    CHECK(msgctl(second, IPC_RMID, NULL) == 0);
    puts("sysv_info: ok");
    return 0;
}
