/* Creates the queue of key argv[1] (hex), sends one message and leaves the queue behind, so
 * that tests/sysv.rs can look for it: a postbox mailbox under LD_PRELOAD, not a kernel queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    key_t key = (key_t)strtoul(argv[1], NULL, 16);
    int id = msgget(key, IPC_CREAT | 0600);
    if (id < 0) {
        perror("msgget");
        return 1;
    }
    struct {
        long mtype;
        char mtext[8];
    } m = {1, "left"};
    if (msgsnd(id, &m, 4, 0) != 0) {
        perror("msgsnd");
        return 1;
    }
    printf("%d\n", id);
    return 0;
}
