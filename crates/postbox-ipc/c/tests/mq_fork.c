/* POSIX queue descriptors survive fork(2): the child uses the descriptor it inherited, and
 * either side blocked in mq_receive wakes when the other sends. */
#include <fcntl.h>
#include <mqueue.h>
#include <sys/wait.h>

#include "check.h"

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/postbox-fork-%d", (int)getpid());
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 8;
    attr.mq_msgsize = 32;
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHECK(q != (mqd_t)-1);
    char buf[32];

    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        /* Wait for the parent's ping (type: priority 2), answer with priority 9. */
        unsigned prio = 0;
        if (mq_receive(q, buf, sizeof buf, &prio) != 4 || prio != 2) {
            _exit(2);
        }
        _exit(mq_send(q, "pong", 4, 9) == 0 ? 0 : 3);
    }
    CHECK(mq_send(q, "ping", 4, 2) == 0);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned prio = 0;
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && prio == 9 && memcmp(buf, "pong", 4) == 0);

    CHECK(mq_close(q) == 0);
    CHECK(mq_unlink(name) == 0);
    puts("mq_fork: ok");
    return 0;
}
