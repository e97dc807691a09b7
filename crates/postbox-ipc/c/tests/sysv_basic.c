/* msgget(2), msgsnd(2)/msgrcv(2) and msgctl(2), as their man pages define them. */
#include "check.h"

int main(void) {
    key_t key = test_key(1);
    struct text_msg m;

    /* msgget: ENOENT without IPC_CREAT, create, open, EEXIST with IPC_EXCL. */
    FAILS_WITH(ENOENT, msgget(key, 0600));
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    CHECK(msgget(key, 0600) == id);
    CHECK(msgget(key, IPC_CREAT | 0600) == id);
    FAILS_WITH(EEXIST, msgget(key, IPC_CREAT | IPC_EXCL | 0600));

    /* IPC_PRIVATE: a new queue every time. */
    int private1 = msgget(IPC_PRIVATE, 0600);
    int private2 = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(private1 >= 0 && private2 >= 0 && private1 != private2 && private1 != id);

    /* FIFO within a type; the returned size is the text's. */
    send_text(id, 1, "first");
    send_text(id, 2, "second");
    send_text(id, 1, "third");
    send_text(id, 5, "fifth");
    CHECK(msgrcv(id, &m, sizeof m.mtext, 0, 0) == 5);
    CHECK(m.mtype == 1 && memcmp(m.mtext, "first", 5) == 0);

    /* msgtyp > 0: the first of that type; MSG_EXCEPT: the first of any other. */
    CHECK(msgrcv(id, &m, sizeof m.mtext, 1, 0) == 5 && memcmp(m.mtext, "third", 5) == 0);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 2, MSG_EXCEPT) == 5 && m.mtype == 5);
    /* msgtyp < 0: the lowest type at most |msgtyp|. */
    send_text(id, 3, "three");
    send_text(id, 1, "one");
    CHECK(msgrcv(id, &m, sizeof m.mtext, -3, 0) == 3 && m.mtype == 1);
    CHECK(msgrcv(id, &m, sizeof m.mtext, -3, 0) == 6 && m.mtype == 2);
    CHECK(msgrcv(id, &m, sizeof m.mtext, -3, 0) == 5 && m.mtype == 3);

    /* IPC_NOWAIT on an empty queue (or no match): ENOMSG. */
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));
    send_text(id, 4, "four");
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 7, IPC_NOWAIT));

    /* Too long for the buffer: E2BIG and the message stays; MSG_NOERROR cuts it. */
    FAILS_WITH(E2BIG, msgrcv(id, &m, 2, 0, IPC_NOWAIT));
    CHECK(msgrcv(id, &m, 2, 0, IPC_NOWAIT | MSG_NOERROR) == 2);
    CHECK(m.mtype == 4 && memcmp(m.mtext, "fo", 2) == 0);
    FAILS_WITH(ENOMSG, msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));

    /* An empty text is a message. */
    m.mtype = 9;
    CHECK(msgsnd(id, &m, 0, 0) == 0);
    CHECK(msgrcv(id, &m, sizeof m.mtext, 9, 0) == 0 && m.mtype == 9);

    /* msgsnd: a type below 1 is EINVAL, and so is a text above msgmax (tested where msgmax is
     * at most 1 MiB, which the shim caps it to). */
    m.mtype = 0;
    FAILS_WITH(EINVAL, msgsnd(id, &m, 1, 0));
    m.mtype = -4;
    FAILS_WITH(EINVAL, msgsnd(id, &m, 1, 0));
    size_t msgmax = proc_limit("/proc/sys/kernel/msgmax", 8192);
    size_t msgmnb = proc_limit("/proc/sys/kernel/msgmnb", 16384);
    long *big = calloc(1, sizeof(long) + msgmax + 1);
    CHECK(big != NULL);
    big[0] = 1;
    if (msgmax <= (1 << 20)) {
        FAILS_WITH(EINVAL, msgsnd(id, big, msgmax + 1, 0));
    }

    /* A full queue (msgmnb bytes): IPC_NOWAIT sends fail with EAGAIN. */
    size_t chunk = msgmax < 65536 ? msgmax : 65536;
    size_t chunks = msgmnb / chunk;
    for (size_t i = 0; i < chunks; i++) {
        CHECK(msgsnd(id, big, chunk, IPC_NOWAIT) == 0);
    }
    size_t rest = msgmnb - chunks * chunk;
    if (rest > 0) {
        CHECK(msgsnd(id, big, rest, IPC_NOWAIT) == 0);
    }
    FAILS_WITH(EAGAIN, msgsnd(id, big, 1, IPC_NOWAIT));

    /* IPC_STAT. */
    struct msqid_ds ds;
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    CHECK(ds.msg_qnum == chunks + (rest > 0) && ds.msg_qbytes == msgmnb);
    CHECK(ds.msg_perm.__key == key && (ds.msg_perm.mode & 0777) == 0600);
    CHECK(ds.msg_perm.uid == getuid() && ds.msg_stime > 0 && ds.msg_rtime > 0);
    CHECK(ds.msg_lspid == getpid() && ds.msg_lrpid == getpid());

    /* IPC_SET: the mode and the byte limit (lowered: raising it above msgmnb needs
     * CAP_SYS_RESOURCE). */
    ds.msg_perm.mode = 0644;
    ds.msg_qbytes = msgmnb - chunk;
    CHECK(msgctl(id, IPC_SET, &ds) == 0);
    CHECK(msgctl(id, IPC_STAT, &ds) == 0);
    CHECK((ds.msg_perm.mode & 0777) == 0644 && ds.msg_qbytes == msgmnb - chunk);
    FAILS_WITH(EAGAIN, msgsnd(id, big, 1, IPC_NOWAIT));
    free(big);

    /* Unknown commands and identifiers. */
    FAILS_WITH(EINVAL, msgctl(id, 12345, &ds));
    FAILS_WITH(EINVAL, msgctl(-1, IPC_STAT, &ds));
    FAILS_WITH(EINVAL, msgsnd(-1, &m, 1, 0));

    /* IPC_RMID: the identifier is no more; the key is free again. */
    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    FAILS_WITH(EINVAL, msgctl(id, IPC_STAT, &ds));
    FAILS_WITH(EINVAL, msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT));
    FAILS_WITH(ENOENT, msgget(key, 0600));
    CHECK(msgctl(private1, IPC_RMID, NULL) == 0);
    CHECK(msgctl(private2, IPC_RMID, NULL) == 0);
    puts("sysv_basic: ok");
    return 0;
}
