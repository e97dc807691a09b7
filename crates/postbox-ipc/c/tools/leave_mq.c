/* Creates the POSIX queue argv[1] ("/NAME"), sends one message and leaves the queue behind,
 * so that tests/sysv.rs can look for it: a postbox mailbox under LD_PRELOAD, not a kernel one. */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    mqd_t q = mq_open(argv[1], O_WRONLY | O_CREAT, 0600, NULL);
    if (q == (mqd_t)-1) {
        perror("mq_open");
        return 1;
    }
    if (mq_send(q, "left", 4, 3) != 0) {
        perror("mq_send");
        return 1;
    }
    return mq_close(q) == 0 ? 0 : 1;
}
