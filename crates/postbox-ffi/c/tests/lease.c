/* Acknowledged receive: lease, ack, nack, give back by freeing; lease time, most deliveries and
 * the dead-letter mailbox. */
#include "check.h"

int main(int argc, char **argv) {
    const char *url = test_url(argc, argv);
    postbox_process p;
    OK(postbox_connect(url, &p));
    postbox_mailbox jobs;
    OK(postbox_mailbox_create(p, "c.lease.jobs", (postbox_mailbox_options){0}, &jobs));
    postbox_message m;
    postbox_lease lease;
    postbox_mailbox_stats st;

    SEND(jobs, "a");
    SEND(jobs, "b");
    OK(postbox_mailbox_lease(jobs, &lease, &m));
    CHECK(payload_is(&m, "a") && m.attempt == 1 && lease.id != 0);
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_stat(jobs, &st));
    CHECK(st.leased == 1 && st.messages == 1);
    OK(postbox_lease_nack(lease)); /* back to the front */
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_lease_ack(lease)); /* settled: the handle is gone */

    OK(postbox_mailbox_try_lease(jobs, &lease, &m));
    CHECK(payload_is(&m, "a") && m.attempt == 2);
    OK(postbox_message_free(&m));
    OK(postbox_lease_ack(lease));
    OK(postbox_mailbox_stat(jobs, &st));
    CHECK(st.leased == 0 && st.messages == 1);

    /* Freeing an unsettled lease gives the message back; so does freeing the mailbox handle
     * only once the lease is done with it. */
    OK(postbox_mailbox_lease_timeout(jobs, 1000, &lease, &m));
    CHECK(payload_is(&m, "b"));
    OK(postbox_message_free(&m));
    OK(postbox_lease_free(lease));
    OK(postbox_mailbox_lease_matching(jobs, any(), &lease, &m));
    CHECK(payload_is(&m, "b") && m.attempt == 2);
    OK(postbox_message_free(&m));
    OK(postbox_lease_ack(lease));

    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_lease(jobs, &lease, &m));
    CHECK(lease.id == 0 && m.handle == 0);
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_mailbox_lease_timeout(jobs, 20, &lease, &m));
    OK(postbox_mailbox_send(jobs, (const uint8_t *)"t2", 2, 2, 0, NULL));
    EXPECT(POSTBOX_STATUS_EMPTY,
           postbox_mailbox_try_lease_matching(jobs, of_type(POSTBOX_SELECTOR_KIND_TYPE, 3), &lease, &m));
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_mailbox_lease_matching_timeout(
                                       jobs, of_type(POSTBOX_SELECTOR_KIND_TYPE, 3), 20, &lease, &m));
    OK(postbox_mailbox_try_lease_matching(jobs, of_type(POSTBOX_SELECTOR_KIND_TYPE, 2), &lease, &m));
    OK(postbox_message_free(&m));

    /* A lease keeps its mailbox open after the handle is freed. */
    OK(postbox_mailbox_free(jobs));
    OK(postbox_lease_ack(lease));

    /* Redelivery: at most two deliveries, then the dead-letter mailbox. */
    postbox_mailbox dead;
    OK(postbox_mailbox_create(p, "c.lease.dead", (postbox_mailbox_options){0}, &dead));
    postbox_mailbox_options o;
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_max_deliveries(o, 2));
    OK(postbox_mailbox_options_set_dead_letter(o, dead));
    OK(postbox_mailbox_options_set_lease_time_ms(o, 60000));
    postbox_mailbox work;
    OK(postbox_mailbox_create(p, "c.lease.work", o, &work));
    OK(postbox_mailbox_options_free(o));
    OK(postbox_mailbox_stat(work, &st));
    uint64_t dead_id;
    OK(postbox_mailbox_id(dead, &dead_id));
    CHECK(st.max_deliveries == 2 && st.dead_letter == dead_id && st.lease_time_ms == 60000);
    SEND(work, "poison");
    for (int attempt = 1; attempt <= 2; attempt++) {
        OK(postbox_mailbox_try_lease(work, &lease, &m));
        CHECK(m.attempt == (uint32_t)attempt);
        OK(postbox_message_free(&m));
        OK(postbox_lease_nack(lease));
    }
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_mailbox_try_recv(work, &m));
    OK(postbox_mailbox_try_recv(dead, &m));
    CHECK(payload_is(&m, "poison"));
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_stat(work, &st));
    CHECK(st.dead_lettered == 1);

    /* A short lease time: the lease ends by itself, and a late ack says so. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_lease_time_ms(o, 1));
    postbox_mailbox quick;
    OK(postbox_mailbox_create(p, "c.lease.quick", o, &quick));
    OK(postbox_mailbox_options_free(o));
    SEND(quick, "q");
    OK(postbox_mailbox_lease(quick, &lease, &m));
    OK(postbox_message_free(&m));
    /* The message comes back when the lease ends: waiting for it is the synchronisation. */
    postbox_lease again;
    OK(postbox_mailbox_lease_timeout(quick, 10000, &again, &m));
    CHECK(m.attempt == 2);
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_LEASE_ENDED, postbox_lease_ack(lease));
    ERROR_SAYS("lease ended");
    OK(postbox_lease_free(again));

    OK(postbox_mailbox_free(quick));
    OK(postbox_mailbox_free(work));
    OK(postbox_mailbox_free(dead));
    OK(postbox_process_free(p));
    puts("lease: ok");
    return 0;
}
