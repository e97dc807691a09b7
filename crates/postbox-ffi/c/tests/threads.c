/* Threads: handles shared between threads, a blocked receive woken by another thread's send,
 * many producers and consumers on one mailbox, and the last error kept per thread. */
#include <pthread.h>

#include "check.h"

#define PRODUCERS 4
#define PER_PRODUCER 250

static postbox_mailbox shared;
static postbox_process owner;

static void *produce(void *arg) {
    (void)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        SEND(shared, "m");
    }
    return NULL;
}

static void *consume(void *arg) {
    int *count = arg;
    postbox_message m;
    for (;;) {
        OK(postbox_mailbox_recv(shared, &m));
        int stop = m.mtype == 2;
        OK(postbox_message_free(&m));
        if (stop) {
            return NULL;
        }
        (*count)++;
    }
}

/* Fails on its own thread: the main thread's last error must not change. */
static void *fail_elsewhere(void *arg) {
    (void)arg;
    postbox_mailbox null_mailbox = {0};
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_free(null_mailbox));
    ERROR_SAYS("postbox_mailbox_free");
    return NULL;
}

int main(int argc, char **argv) {
    const char *url = test_url(argc, argv);
    OK(postbox_connect(url, &owner));
    OK(postbox_mailbox_create(owner, "c.threads.shared", (postbox_mailbox_options){0}, &shared));

    /* One process's handle used by many threads at once. */
    pthread_t producers[PRODUCERS], consumers[2];
    int counts[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        pthread_create(&consumers[i], NULL, consume, &counts[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_create(&producers[i], NULL, produce, NULL);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(producers[i], NULL);
    }
    for (int i = 0; i < 2; i++) {
        OK(postbox_mailbox_send(shared, (const uint8_t *)"stop", 4, 2, 0, NULL));
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(consumers[i], NULL);
    }
    CHECK(counts[0] + counts[1] == PRODUCERS * PER_PRODUCER);

    /* The last error is per thread. */
    postbox_message m;
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv(shared, &m));
    pthread_t other;
    pthread_create(&other, NULL, fail_elsewhere, NULL);
    pthread_join(other, NULL);
    ERROR_SAYS("postbox_mailbox_try_recv: receive failed: mailbox is empty");

    OK(postbox_mailbox_free(shared));
    OK(postbox_process_free(owner));
    puts("threads: ok");
    return 0;
}
