/*
 * A work queue in C: one producer, three worker threads, each its own postbox process, sharing
 * one mailbox with round-robin dispatch; each job is acknowledged to the producer directly.
 *
 *   cc workers.c $(pkg-config --cflags --libs postbox) -lpthread -o workers
 *   ./workers                          # on an in-process node
 *   ./workers unix:///run/user/1000/postbox.sock   # through a daemon
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postbox.h"

#define JOBS 10
#define WORKERS 3

static const char *url;
static uint64_t producer_pid;

/* Prints what failed and exits: the example's error handling. */
static void must(int status, const char *what) {
    if (status != POSTBOX_STATUS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, postbox_last_error(), postbox_status_name(status));
        exit(1);
    }
}

static void *worker(void *arg) {
    (void)arg;
    postbox_process self;
    must(postbox_connect(url, &self), "connect");
    postbox_mailbox jobs;
    must(postbox_mailbox_open(self, "example.jobs", &jobs), "open");
    for (;;) {
        postbox_message job;
        must(postbox_mailbox_recv(jobs, &job), "recv");
        int stop = job.mtype == 2; /* type 2: no more work */
        if (!stop) {
            /* Tell the producer, directly, which job this process did. */
            must(postbox_process_send_to(self, producer_pid, job.payload, job.len, 1, 0), "send_to");
        }
        postbox_message_free(&job);
        if (stop) {
            break;
        }
    }
    postbox_mailbox_free(jobs);
    postbox_process_free(self);
    return NULL;
}

int main(int argc, char **argv) {
    url = argc > 1 ? argv[1] : "inproc://example";
    postbox_process producer;
    must(postbox_connect(url, &producer), "connect");
    must(postbox_process_pid(producer, &producer_pid), "pid");

    /* A system-owned mailbox any process of this user may receive from, round-robin. */
    postbox_mailbox_options options;
    must(postbox_mailbox_options_new(&options), "options");
    must(postbox_mailbox_options_set_ownership(options, POSTBOX_OWNERSHIP_SYSTEM), "ownership");
    must(postbox_mailbox_options_set_receivers(options, POSTBOX_RECEIVERS_SHARED_ROUND_ROBIN),
         "receivers");
    must(postbox_mailbox_options_set_capacity(options, POSTBOX_CAPACITY_BOUNDED, 4, 4096),
         "capacity");
    postbox_mailbox jobs;
    must(postbox_mailbox_create(producer, "example.jobs", options, &jobs), "create");
    postbox_mailbox_options_free(options);

    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        pthread_create(&threads[i], NULL, worker, NULL);
    }
    for (int i = 0; i < JOBS; i++) {
        char text[32];
        int len = snprintf(text, sizeof text, "job %d", i);
        /* Blocks while 4 jobs wait: the bounded mailbox is the back-pressure. */
        must(postbox_mailbox_send(jobs, (const uint8_t *)text, (size_t)len, 1, 0, NULL), "send");
    }
    for (int i = 0; i < JOBS; i++) {
        postbox_message done;
        must(postbox_process_recv_any(producer, &done), "recv_any");
        printf("process %llu did %.*s\n", (unsigned long long)done.sender, (int)done.len,
               (const char *)done.payload);
        postbox_message_free(&done);
    }
    for (int i = 0; i < WORKERS; i++) {
        must(postbox_mailbox_send(jobs, (const uint8_t *)"stop", 4, 2, 0, NULL), "send stop");
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
    }
    printf("all %d jobs done\n", JOBS);
    must(postbox_mailbox_delete(jobs), "delete");
    postbox_mailbox_free(jobs);
    postbox_process_free(producer);
    return 0;
}
