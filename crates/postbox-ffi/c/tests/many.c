/* Many at once: batches, receiving up to N, peeking, and listing a node's mailboxes and
 * processes into caller arrays. */
#include "check.h"

int main(int argc, char **argv) {
    const char *url = test_url(argc, argv);
    postbox_process p;
    OK(postbox_connect(url, &p));
    OK(postbox_process_register(p, "c.many.p"));
    uint64_t pid;
    OK(postbox_process_pid(p, &pid));
    postbox_mailbox_options o;
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_capacity(o, POSTBOX_CAPACITY_BOUNDED, 3, 1024));
    postbox_mailbox log;
    OK(postbox_mailbox_create(p, "c.many.log", o, &log));
    OK(postbox_mailbox_options_free(o));

    postbox_outgoing batch[4] = {
        {(const uint8_t *)"started", 7, 1, 0},
        {(const uint8_t *)"working", 7, 2, 0},
        {(const uint8_t *)"done", 4, 1, 0},
        {(const uint8_t *)"extra", 5, 1, 0},
    };
    size_t sent = 99;
    /* The fourth finds the mailbox full: three were sent. */
    EXPECT(POSTBOX_STATUS_FULL, postbox_mailbox_try_send_batch(log, batch, 4, &sent));
    CHECK(sent == 3);
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_mailbox_send_batch_timeout(log, batch + 3, 1, 20, &sent));
    CHECK(sent == 0);
    OK(postbox_mailbox_try_send_batch(log, NULL, 0, &sent));
    CHECK(sent == 0);

    /* Peek: copies, in the order a receive with the selector would take them. */
    postbox_message seen[8];
    size_t count = 99;
    OK(postbox_mailbox_peek(log, of_type(POSTBOX_SELECTOR_KIND_TYPE, 1), 8, seen, &count));
    CHECK(count == 2 && payload_is(&seen[0], "started") && payload_is(&seen[1], "done"));
    for (size_t i = 0; i < count; i++) {
        OK(postbox_message_free(&seen[i]));
    }

    /* Receive up to N: here all three, in order. */
    postbox_message got[8];
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_try_recv_many(log, 0, got, &count));
    OK(postbox_mailbox_recv_many(log, 2, got, &count));
    CHECK(count == 2 && payload_is(&got[0], "started") && payload_is(&got[1], "working"));
    OK(postbox_message_free(&got[0]));
    OK(postbox_message_free(&got[1]));
    OK(postbox_mailbox_recv_many_timeout(log, 8, 1000, got, &count));
    CHECK(count == 1 && payload_is(&got[0], "done"));
    OK(postbox_message_free(&got[0]));
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv_many(log, 8, got, &count));
    CHECK(count == 0);
    OK(postbox_mailbox_send_batch(log, batch, 2, &sent));
    CHECK(sent == 2);

    /* Listing: first the total, then the array. */
    size_t total = 0;
    OK(postbox_process_list_mailboxes(p, NULL, 0, &total));
    CHECK(total >= 1);
    postbox_mailbox_stats *all = calloc(total, sizeof *all);
    OK(postbox_process_list_mailboxes(p, all, total, &total));
    int found = 0;
    for (size_t i = 0; i < total; i++) {
        if (strcmp(all[i].name, "c.many.log") == 0) {
            found = 1;
            CHECK(all[i].messages == 2 && all[i].max_messages == 3);
        }
    }
    CHECK(found);
    free(all);

    postbox_process_info procs[64];
    OK(postbox_process_list_processes(p, procs, 64, &total));
    CHECK(total >= 1);
    found = 0;
    for (size_t i = 0; i < total && i < 64; i++) {
        if (procs[i].pid == pid) {
            found = 1;
            CHECK(strcmp(procs[i].name, "c.many.p") == 0 && procs[i].owned_mailboxes >= 1);
        }
    }
    CHECK(found);

    OK(postbox_mailbox_free(log));
    OK(postbox_process_free(p));
    puts("many: ok");
    return 0;
}
