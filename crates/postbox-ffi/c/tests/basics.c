/* The first steps: connect, create a mailbox, send, receive in every flavour, statistics,
 * delete, and the library-wide functions. */
#include "check.h"

int main(int argc, char **argv) {
    const char *url = test_url(argc, argv);
    CHECK(strlen(postbox_version()) > 0);
    CHECK(strcmp(postbox_status_name(POSTBOX_STATUS_FULL), "POSTBOX_STATUS_FULL") == 0);
    CHECK(strcmp(postbox_status_name(12345), "POSTBOX_STATUS_UNKNOWN") == 0);

    postbox_process p;
    OK(postbox_connect(url, &p));
    uint64_t pid = 0;
    OK(postbox_process_pid(p, &pid));
    CHECK(pid >= 1);

    postbox_mailbox_options defaults = {0};
    postbox_mailbox jobs;
    OK(postbox_mailbox_create(p, "c.basics.jobs", defaults, &jobs));
    EXPECT(POSTBOX_STATUS_ALREADY_EXISTS, postbox_mailbox_create(p, "c.basics.jobs", defaults, &jobs));
    ERROR_SAYS("postbox_mailbox_create: mailbox already exists");
    CHECK(jobs.id == 0); /* left as the null handle on failure */
    OK(postbox_mailbox_open(p, "c.basics.jobs", &jobs));

    char name[256];
    size_t len = 0;
    OK(postbox_mailbox_name(jobs, name, sizeof name, &len));
    CHECK(strcmp(name, "c.basics.jobs") == 0 && len == 13);

    /* Send and receive, with type and priority. */
    OK(postbox_mailbox_send(jobs, (const uint8_t *)"hello", 5, 7, 3, NULL));
    postbox_message m;
    OK(postbox_mailbox_recv(jobs, &m));
    CHECK(payload_is(&m, "hello"));
    CHECK(m.mtype == 7 && m.priority == 3 && m.sender == pid && m.attempt == 1);
    CHECK(m.kind == POSTBOX_MESSAGE_KIND_USER && m.sent_at_ns > 0 && m.handle != 0);
    OK(postbox_message_free(&m));
    CHECK(m.payload == NULL && m.len == 0 && m.handle == 0);
    OK(postbox_message_free(&m)); /* an emptied message: nothing to do */
    OK(postbox_message_free(NULL));

    /* Empty payloads, with a NULL pointer. */
    OK(postbox_mailbox_try_send(jobs, NULL, 0, 1, 0, NULL));
    OK(postbox_mailbox_try_recv(jobs, &m));
    CHECK(m.len == 0);
    OK(postbox_message_free(&m));

    /* Nothing queued: try fails at once, timed waits out. */
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv(jobs, &m));
    ERROR_SAYS("mailbox is empty");
    CHECK(m.handle == 0 && m.payload == NULL);
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_mailbox_recv_timeout(jobs, 20, &m));
    ERROR_SAYS("timed out");

    /* Typed receive, System V style. */
    OK(postbox_mailbox_send(jobs, (const uint8_t *)"low", 3, 5, 0, NULL));
    OK(postbox_mailbox_send(jobs, (const uint8_t *)"urgent", 6, 1, 0, NULL));
    OK(postbox_mailbox_send(jobs, (const uint8_t *)"other", 5, 9, 0, NULL));
    OK(postbox_mailbox_try_recv_matching(jobs, of_type(POSTBOX_SELECTOR_KIND_TYPE_AT_MOST, 3), &m));
    CHECK(payload_is(&m, "urgent"));
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_recv_matching(jobs, of_type(POSTBOX_SELECTOR_KIND_TYPE, 9), &m));
    CHECK(payload_is(&m, "other"));
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_EMPTY,
           postbox_mailbox_try_recv_matching(jobs, of_type(POSTBOX_SELECTOR_KIND_NOT_TYPE, 5), &m));
    OK(postbox_mailbox_recv_matching_timeout(jobs, from(pid), 1000, &m));
    CHECK(payload_is(&m, "low"));
    OK(postbox_message_free(&m));

    /* Statistics. */
    SEND(jobs, "a");
    SEND(jobs, "bc");
    postbox_mailbox_stats stats;
    OK(postbox_mailbox_stat(jobs, &stats));
    CHECK(strcmp(stats.name, "c.basics.jobs") == 0);
    CHECK(stats.messages == 2 && stats.bytes == 3);
    CHECK(stats.total_sent == 7 && stats.total_received == 5);
    CHECK(stats.capacity == POSTBOX_CAPACITY_BOUNDED && stats.max_messages == 64);
    CHECK(stats.max_bytes == 1 << 20);
    CHECK(stats.size == POSTBOX_SIZE_VARIABLE && stats.message_size == 64 << 10);
    CHECK(stats.order == POSTBOX_ORDER_FIFO && stats.overflow == POSTBOX_OVERFLOW_BLOCK);
    CHECK(stats.ownership == POSTBOX_OWNERSHIP_PROCESS);
    CHECK(stats.receivers == POSTBOX_RECEIVERS_OWNER);
    CHECK(stats.owner_kind == POSTBOX_OWNER_KIND_PROCESS && stats.owner_pid == pid);
    CHECK(stats.mode == 0600 && stats.last_send_pid == pid && stats.openers == 1);
    uint64_t id = 0;
    OK(postbox_mailbox_id(jobs, &id));
    CHECK(id == stats.id && id != 0);

    size_t dropped = 0;
    OK(postbox_mailbox_purge(jobs, &dropped));
    CHECK(dropped == 2);

    postbox_node_stats node;
    OK(postbox_process_node_stats(p, &node));
    CHECK(node.processes >= 1 && node.mailboxes >= 1);

    /* Delete: every later operation is Gone, and the name is free again. */
    OK(postbox_mailbox_delete(jobs));
    EXPECT(POSTBOX_STATUS_GONE, postbox_mailbox_try_send(jobs, (const uint8_t *)"x", 1, 1, 0, NULL));
    EXPECT(POSTBOX_STATUS_GONE, postbox_mailbox_try_recv(jobs, &m));
    OK(postbox_mailbox_free(jobs));
    OK(postbox_mailbox_create(p, "c.basics.jobs", defaults, &jobs));
    OK(postbox_mailbox_free(jobs));

    /* An in-process node of one's own. */
    postbox_node own;
    OK(postbox_node_new(&own));
    postbox_process a, b;
    OK(postbox_node_process(own, &a));
    OK(postbox_node_process(own, &b));
    OK(postbox_node_free(own)); /* its processes live on */
    uint64_t b_pid;
    OK(postbox_process_pid(b, &b_pid));
    OK(postbox_process_send_to(a, b_pid, (const uint8_t *)"hi", 2, 1, 0));
    OK(postbox_process_recv_any(b, &m));
    CHECK(payload_is(&m, "hi"));
    OK(postbox_message_free(&m));
    OK(postbox_process_free(a));
    OK(postbox_process_free(b));

    OK(postbox_process_free(p));
    puts("basics: ok");
    return 0;
}
