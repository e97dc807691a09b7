/* Direct messaging between processes: send to a pid, receive from one or from anyone, names,
 * monitors and down notifications, and never waiting forever on a dead peer. */
#include <pthread.h>

#include "check.h"

struct peer {
    postbox_process process;
    uint64_t to;
};

/* Receives one message from its inbox, then sends one back to `to`. */
static void *echo_once(void *arg) {
    struct peer *peer = arg;
    postbox_message m;
    OK(postbox_process_recv_any(peer->process, &m));
    OK(postbox_process_send_to(peer->process, peer->to, m.payload, m.len, m.mtype, m.priority));
    OK(postbox_message_free(&m));
    return NULL;
}

int main(int argc, char **argv) {
    const char *url = test_url(argc, argv);
    postbox_process a, b;
    OK(postbox_connect(url, &a));
    OK(postbox_connect(url, &b));
    uint64_t a_pid, b_pid;
    OK(postbox_process_pid(a, &a_pid));
    OK(postbox_process_pid(b, &b_pid));
    CHECK(a_pid != b_pid);
    postbox_message m;

    /* Names. */
    OK(postbox_process_register(b, "c.direct.b"));
    EXPECT(POSTBOX_STATUS_ALREADY_EXISTS, postbox_process_register(a, "c.direct.b"));
    uint64_t found = 0;
    OK(postbox_process_whereis(a, "c.direct.b", &found));
    CHECK(found == b_pid);

    /* To a pid, from anyone. */
    OK(postbox_process_send_to(a, b_pid, (const uint8_t *)"one", 3, 1, 0));
    OK(postbox_process_try_send_to(a, b_pid, (const uint8_t *)"two", 3, 2, 0));
    OK(postbox_process_send_to_timeout(a, b_pid, (const uint8_t *)"three", 5, 3, 0, 1000));
    OK(postbox_process_recv_any(b, &m));
    CHECK(payload_is(&m, "one") && m.sender == a_pid);
    OK(postbox_message_free(&m));
    OK(postbox_process_try_recv_matching(b, of_type(POSTBOX_SELECTOR_KIND_TYPE, 3), &m));
    CHECK(payload_is(&m, "three"));
    OK(postbox_message_free(&m));
    OK(postbox_process_recv_matching_timeout(b, any(), 1000, &m));
    CHECK(payload_is(&m, "two"));
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_process_try_recv_any(b, &m));
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_process_recv_any_timeout(b, 20, &m));

    /* From one sender, however many others are queued. */
    postbox_process c;
    OK(postbox_connect(url, &c));
    uint64_t c_pid;
    OK(postbox_process_pid(c, &c_pid));
    OK(postbox_process_send_to(c, b_pid, (const uint8_t *)"from c", 6, 1, 0));
    OK(postbox_process_send_to(a, b_pid, (const uint8_t *)"from a", 6, 1, 0));
    OK(postbox_process_recv_from(b, a_pid, &m));
    CHECK(payload_is(&m, "from a"));
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_process_try_recv_from(b, a_pid, &m));
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_process_recv_from_timeout(b, a_pid, 20, &m));
    OK(postbox_process_recv_matching(b, from(c_pid), &m));
    CHECK(payload_is(&m, "from c"));
    OK(postbox_message_free(&m));

    /* A rendezvous with a process: the receipt comes once it has taken the message. */
    struct peer peer = {b, a_pid};
    pthread_t thread;
    pthread_create(&thread, NULL, echo_once, &peer);
    OK(postbox_process_send_to_with_receipt(a, b_pid, (const uint8_t *)"echo", 4, 1, 0));
    pthread_join(thread, NULL);
    OK(postbox_process_recv_from(a, b_pid, &m));
    CHECK(payload_is(&m, "echo"));
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_TIMEOUT,
           postbox_process_send_to_with_receipt_timeout(a, b_pid, (const uint8_t *)"x", 1, 1, 0, 20));
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_process_try_recv_any(b, &m)); /* withdrawn */

    /* Monitors and death: a down notification, then PEER_GONE instead of a hang. */
    OK(postbox_process_monitor(a, c_pid));
    OK(postbox_process_send_to(c, a_pid, (const uint8_t *)"last words", 10, 1, 0));
    OK(postbox_process_free(c));
    OK(postbox_process_recv_from(a, c_pid, &m));
    CHECK(payload_is(&m, "last words") && m.kind == POSTBOX_MESSAGE_KIND_USER);
    OK(postbox_message_free(&m));
    OK(postbox_process_recv_from(a, c_pid, &m));
    CHECK(m.kind == POSTBOX_MESSAGE_KIND_DOWN && m.sender == c_pid);
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_PEER_GONE, postbox_process_recv_from(a, c_pid, &m));
    ERROR_SAYS("peer process is gone");
    EXPECT(POSTBOX_STATUS_PEER_GONE, postbox_process_send_to(a, c_pid, (const uint8_t *)"x", 1, 1, 0));
    EXPECT(POSTBOX_STATUS_NOT_FOUND, postbox_process_send_to(a, 999999, (const uint8_t *)"x", 1, 1, 0));
    EXPECT(POSTBOX_STATUS_NOT_FOUND, postbox_process_monitor(a, 999999));
    OK(postbox_process_monitor(a, b_pid));
    OK(postbox_process_demonitor(a, b_pid));

    /* A registered name goes with its process. */
    OK(postbox_process_free(b));
    EXPECT(POSTBOX_STATUS_NOT_FOUND, postbox_process_whereis(a, "c.direct.b", &found));
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_process_recv_any_timeout(a, 20, &m)); /* demonitored */

    OK(postbox_process_free(a));
    puts("direct: ok");
    return 0;
}
