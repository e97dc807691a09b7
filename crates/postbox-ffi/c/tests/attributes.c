/* Every mailbox attribute, set from C and seen working: capacity (bounded, zero, unbounded),
 * size (fixed, variable), order, overflow, ownership, receivers, mode; and the settings that
 * change later: mode, byte limit, owner, receive rights. */
#include <pthread.h>

#include "check.h"

static const char *url;

static postbox_mailbox create(postbox_process p, const char *name, postbox_mailbox_options o) {
    postbox_mailbox mb;
    OK(postbox_mailbox_create(p, name, o, &mb));
    return mb;
}

/* A receiver on a process of its own: takes one message from `name`, then leaves. */
static void *receive_one(void *arg) {
    const char *name = arg;
    postbox_process p;
    OK(postbox_connect(url, &p));
    postbox_mailbox mb;
    OK(postbox_mailbox_open(p, name, &mb));
    postbox_message m;
    OK(postbox_mailbox_recv(mb, &m));
    CHECK(payload_is(&m, "meet"));
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_free(mb));
    OK(postbox_process_free(p));
    return NULL;
}

int main(int argc, char **argv) {
    url = test_url(argc, argv);
    postbox_process p, other;
    OK(postbox_connect(url, &p));
    OK(postbox_connect(url, &other));
    uint64_t p_pid, other_pid;
    OK(postbox_process_pid(p, &p_pid));
    OK(postbox_process_pid(other, &other_pid));
    postbox_message m;
    postbox_mailbox_stats st;
    postbox_mailbox_options o;

    /* Bounded: full means FULL at once, or TIMEOUT when timed. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_capacity(o, POSTBOX_CAPACITY_BOUNDED, 2, 1024));
    postbox_mailbox bounded = create(p, "c.attrs.bounded", o);
    OK(postbox_mailbox_options_free(o));
    SEND(bounded, "1");
    SEND(bounded, "2");
    EXPECT(POSTBOX_STATUS_FULL, postbox_mailbox_try_send(bounded, (const uint8_t *)"3", 1, 1, 0, NULL));
    ERROR_SAYS("mailbox is full");
    EXPECT(POSTBOX_STATUS_TIMEOUT,
           postbox_mailbox_send_timeout(bounded, (const uint8_t *)"3", 1, 1, 0, 20, NULL));
    OK(postbox_mailbox_stat(bounded, &st));
    CHECK(st.max_messages == 2 && st.max_bytes == 1024 && st.messages == 2);
    OK(postbox_mailbox_set_max_bytes(bounded, 2048));
    OK(postbox_mailbox_stat(bounded, &st));
    CHECK(st.max_bytes == 2048);
    OK(postbox_mailbox_free(bounded));

    /* Unbounded. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_capacity(o, POSTBOX_CAPACITY_UNBOUNDED, 0, 0));
    postbox_mailbox unbounded = create(p, "c.attrs.unbounded", o);
    OK(postbox_mailbox_options_free(o));
    for (int i = 0; i < 100; i++) {
        OK(postbox_mailbox_try_send(unbounded, (const uint8_t *)"x", 1, 1, 0, NULL));
    }
    OK(postbox_mailbox_stat(unbounded, &st));
    CHECK(st.capacity == POSTBOX_CAPACITY_UNBOUNDED && st.messages == 100);
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_set_max_bytes(unbounded, 10));
    OK(postbox_mailbox_free(unbounded));

    /* Fixed size. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_size(o, POSTBOX_SIZE_FIXED, 4));
    postbox_mailbox fixed = create(p, "c.attrs.fixed", o);
    OK(postbox_mailbox_options_free(o));
    EXPECT(POSTBOX_STATUS_WRONG_SIZE, postbox_mailbox_try_send(fixed, (const uint8_t *)"abc", 3, 1, 0, NULL));
    OK(postbox_mailbox_try_send(fixed, (const uint8_t *)"abcd", 4, 1, 0, NULL));
    OK(postbox_mailbox_stat(fixed, &st));
    CHECK(st.size == POSTBOX_SIZE_FIXED && st.message_size == 4);
    OK(postbox_mailbox_free(fixed));

    /* Priority order. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_order(o, POSTBOX_ORDER_PRIORITY));
    postbox_mailbox prio = create(p, "c.attrs.priority", o);
    OK(postbox_mailbox_options_free(o));
    OK(postbox_mailbox_send(prio, (const uint8_t *)"low", 3, 1, 1, NULL));
    OK(postbox_mailbox_send(prio, (const uint8_t *)"high", 4, 1, 9, NULL));
    OK(postbox_mailbox_send(prio, (const uint8_t *)"mid", 3, 1, 5, NULL));
    const char *expected[] = {"high", "mid", "low"};
    for (int i = 0; i < 3; i++) {
        OK(postbox_mailbox_try_recv(prio, &m));
        CHECK(payload_is(&m, expected[i]));
        OK(postbox_message_free(&m));
    }
    OK(postbox_mailbox_free(prio));

    /* Drop-oldest: the newest always fits. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_capacity(o, POSTBOX_CAPACITY_BOUNDED, 2, 1024));
    OK(postbox_mailbox_options_set_overflow(o, POSTBOX_OVERFLOW_DROP_OLDEST));
    postbox_mailbox ring = create(p, "c.attrs.ring", o);
    OK(postbox_mailbox_options_free(o));
    SEND(ring, "a");
    SEND(ring, "b");
    SEND(ring, "c");
    OK(postbox_mailbox_stat(ring, &st));
    CHECK(st.dropped == 1 && st.overflow == POSTBOX_OVERFLOW_DROP_OLDEST);
    OK(postbox_mailbox_try_recv(ring, &m));
    CHECK(payload_is(&m, "b"));
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_free(ring));

    /* Zero capacity: a rendezvous that names its receiver. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_capacity(o, POSTBOX_CAPACITY_ZERO, 0, 0));
    OK(postbox_mailbox_options_set_receivers(o, POSTBOX_RECEIVERS_SHARED_FIRST_WAITING));
    OK(postbox_mailbox_options_set_mode(o, 0666));
    postbox_mailbox meet = create(p, "c.attrs.meet", o);
    OK(postbox_mailbox_options_free(o));
    EXPECT(POSTBOX_STATUS_FULL, postbox_mailbox_try_send(meet, (const uint8_t *)"meet", 4, 1, 0, NULL));
    pthread_t thread;
    pthread_create(&thread, NULL, receive_one, "c.attrs.meet");
    uint64_t receiver = 0;
    OK(postbox_mailbox_send(meet, (const uint8_t *)"meet", 4, 1, 0, &receiver));
    CHECK(receiver != 0 && receiver != p_pid);
    pthread_join(thread, NULL);
    OK(postbox_mailbox_stat(meet, &st));
    CHECK(st.capacity == POSTBOX_CAPACITY_ZERO && st.mode == 0666);
    CHECK(st.receivers == POSTBOX_RECEIVERS_SHARED_FIRST_WAITING);
    OK(postbox_mailbox_set_mode(meet, 0640));
    OK(postbox_mailbox_stat(meet, &st));
    CHECK(st.mode == 0640);
    OK(postbox_mailbox_free(meet));

    /* Receipts on a buffered mailbox: the sender learns who took it. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_receivers(o, POSTBOX_RECEIVERS_SHARED_ROUND_ROBIN));
    OK(postbox_mailbox_options_set_mode(o, 0666));
    postbox_mailbox receipts = create(p, "c.attrs.receipts", o);
    OK(postbox_mailbox_options_free(o));
    pthread_create(&thread, NULL, receive_one, "c.attrs.receipts");
    receiver = 0;
    OK(postbox_mailbox_send_with_receipt(receipts, (const uint8_t *)"meet", 4, 1, 0, &receiver));
    CHECK(receiver != 0 && receiver != p_pid);
    pthread_join(thread, NULL);
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_mailbox_send_with_receipt_timeout(
                                       receipts, (const uint8_t *)"x", 1, 1, 0, 20, &receiver));
    OK(postbox_mailbox_stat(receipts, &st));
    CHECK(st.messages == 0); /* the timed-out message was withdrawn */
    OK(postbox_mailbox_free(receipts));

    /* Exclusive: the first receiver holds the right. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_receivers(o, POSTBOX_RECEIVERS_EXCLUSIVE));
    OK(postbox_mailbox_options_set_mode(o, 0666));
    postbox_mailbox excl = create(p, "c.attrs.exclusive", o);
    OK(postbox_mailbox_options_free(o));
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv(excl, &m)); /* p holds it now */
    postbox_mailbox excl_other;
    OK(postbox_mailbox_open(other, "c.attrs.exclusive", &excl_other));
    EXPECT(POSTBOX_STATUS_BUSY, postbox_mailbox_try_recv(excl_other, &m));
    OK(postbox_mailbox_free(excl)); /* closing gives the right up */
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv(excl_other, &m));
    OK(postbox_mailbox_free(excl_other));

    /* Pair: the first sender and the first receiver; a third is busy. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_receivers(o, POSTBOX_RECEIVERS_PAIR));
    OK(postbox_mailbox_options_set_ownership(o, POSTBOX_OWNERSHIP_SYSTEM));
    OK(postbox_mailbox_options_set_mode(o, 0666));
    postbox_mailbox pair = create(p, "c.attrs.pair", o);
    OK(postbox_mailbox_options_free(o));
    SEND(pair, "ping");
    postbox_mailbox pair_other;
    OK(postbox_mailbox_open(other, "c.attrs.pair", &pair_other));
    OK(postbox_mailbox_try_recv(pair_other, &m));
    OK(postbox_message_free(&m));
    postbox_process third;
    OK(postbox_connect(url, &third));
    postbox_mailbox pair_third;
    OK(postbox_mailbox_open(third, "c.attrs.pair", &pair_third));
    EXPECT(POSTBOX_STATUS_BUSY, postbox_mailbox_try_send(pair_third, (const uint8_t *)"x", 1, 1, 0, NULL));
    EXPECT(POSTBOX_STATUS_BUSY, postbox_mailbox_try_recv(pair_third, &m));
    OK(postbox_mailbox_free(pair_third));
    OK(postbox_process_free(third));
    OK(postbox_mailbox_stat(pair, &st));
    CHECK(st.receivers == POSTBOX_RECEIVERS_PAIR && st.ownership == POSTBOX_OWNERSHIP_SYSTEM);
    CHECK(st.owner_kind == POSTBOX_OWNER_KIND_SYSTEM);
    OK(postbox_mailbox_delete(pair));
    OK(postbox_mailbox_free(pair));
    OK(postbox_mailbox_free(pair_other));

    /* Owner-only receive, grants, and passing ownership on. */
    postbox_mailbox owned = create(p, "c.attrs.owned", (postbox_mailbox_options){0});
    OK(postbox_mailbox_set_mode(owned, 0666));
    SEND(owned, "mine");
    postbox_mailbox owned_other;
    OK(postbox_mailbox_open(other, "c.attrs.owned", &owned_other));
    EXPECT(POSTBOX_STATUS_PERMISSION_DENIED, postbox_mailbox_try_recv(owned_other, &m));
    OK(postbox_mailbox_grant_receive(owned, other_pid));
    OK(postbox_mailbox_try_recv(owned_other, &m));
    CHECK(payload_is(&m, "mine"));
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_revoke_receive(owned, other_pid));
    EXPECT(POSTBOX_STATUS_PERMISSION_DENIED, postbox_mailbox_try_recv(owned_other, &m));
    OK(postbox_mailbox_set_owner_process(owned, other_pid));
    OK(postbox_mailbox_stat(owned, &st));
    CHECK(st.owner_kind == POSTBOX_OWNER_KIND_PROCESS && st.owner_pid == other_pid);
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv(owned_other, &m));
    OK(postbox_mailbox_set_owner_system(owned_other, 4242, 4242));
    OK(postbox_mailbox_stat(owned_other, &st));
    CHECK(st.owner_kind == POSTBOX_OWNER_KIND_SYSTEM && st.uid == 4242 && st.gid == 4242);
    OK(postbox_mailbox_free(owned_other));
    OK(postbox_mailbox_free(owned));

    /* A process-owned mailbox dies with its owner. */
    postbox_mailbox doomed = create(other, "c.attrs.doomed", (postbox_mailbox_options){0});
    OK(postbox_mailbox_set_mode(doomed, 0666));
    postbox_mailbox doomed_p;
    OK(postbox_mailbox_open(p, "c.attrs.doomed", &doomed_p));
    OK(postbox_process_free(other));
    EXPECT(POSTBOX_STATUS_DISCONNECTED, postbox_mailbox_try_recv(doomed, &m));
    EXPECT(POSTBOX_STATUS_GONE, postbox_mailbox_try_send(doomed_p, (const uint8_t *)"x", 1, 1, 0, NULL));
    OK(postbox_mailbox_free(doomed));
    OK(postbox_mailbox_free(doomed_p));

    OK(postbox_process_free(p));
    puts("attributes: ok");
    return 0;
}
