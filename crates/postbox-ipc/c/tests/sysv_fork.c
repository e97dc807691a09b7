/* Processes: a child made by fork(2) uses the parent's identifier; a blocked msgrcv wakes when
 * another process sends; a receiver waiting on a removed queue is told (EIDRM), or finds it gone
 * (EINVAL) if the removal came first — never hangs. */
#include <sys/wait.h>

#include "check.h"

static void child_exits_ok(pid_t child) {
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
    key_t key = test_key(2);
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(id >= 0);
    struct text_msg m;

    /* The parent blocks in msgrcv; the child sends, by the identifier alone. */
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        send_text(id, 7, "from the child");
        _exit(0);
    }
    CHECK(msgrcv(id, &m, sizeof m.mtext, 7, 0) == 14);
    CHECK(memcmp(m.mtext, "from the child", 14) == 0);
    child_exits_ok(child);

    /* The child blocks in msgrcv; the parent sends. */
    int ready[2];
    CHECK(pipe(ready) == 0);
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        struct text_msg got;
        if (msgrcv(id, &got, sizeof got.mtext, 3, 0) != 4 || memcmp(got.mtext, "ping", 4) != 0) {
            _exit(2);
        }
        /* Then it waits on a queue the parent removes. */
        CHECK(write(ready[1], "r", 1) == 1);
        errno = 0;
        long rc = msgrcv(id, &got, sizeof got.mtext, 99, 0);
        _exit(rc == -1 && (errno == EIDRM || errno == EINVAL) ? 0 : 3);
    }
    send_text(id, 3, "ping");
    char byte;
    CHECK(read(ready[0], &byte, 1) == 1);
    CHECK(msgctl(id, IPC_RMID, NULL) == 0);
    child_exits_ok(child);
    puts("sysv_fork: ok");
    return 0;
}
