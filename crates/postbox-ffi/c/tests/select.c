/* Select: several receives at once — mailboxes and the inbox, each with its own selector —
 * exactly one message taken, from the first ready branch. */
#include <pthread.h>

#include "check.h"

static const char *url;
static uint64_t target_pid;

/* Another process sends to the select's inbox while it waits. */
static void *send_later(void *arg) {
    (void)arg;
    postbox_process p;
    OK(postbox_connect(url, &p));
    OK(postbox_process_send_to(p, target_pid, (const uint8_t *)"wake", 4, 1, 0));
    OK(postbox_process_free(p));
    return NULL;
}

int main(int argc, char **argv) {
    url = test_url(argc, argv);
    postbox_process p;
    OK(postbox_connect(url, &p));
    OK(postbox_process_pid(p, &target_pid));
    postbox_mailbox jobs, control;
    OK(postbox_mailbox_create(p, "c.select.jobs", (postbox_mailbox_options){0}, &jobs));
    OK(postbox_mailbox_create(p, "c.select.control", (postbox_mailbox_options){0}, &control));
    postbox_message m;

    postbox_select s;
    OK(postbox_select_new(&s));
    size_t index = 99;
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_select_try_wait(s, &index, &m)); /* no branches */
    OK(postbox_select_add_mailbox(s, jobs, of_type(POSTBOX_SELECTOR_KIND_TYPE, 5), &index));
    CHECK(index == 0);
    OK(postbox_select_add_mailbox(s, control, any(), &index));
    CHECK(index == 1);
    OK(postbox_select_add_inbox(s, p, any(), &index));
    CHECK(index == 2);

    EXPECT(POSTBOX_STATUS_EMPTY, postbox_select_try_wait(s, &index, &m));
    EXPECT(POSTBOX_STATUS_TIMEOUT, postbox_select_wait_timeout(s, 20, &index, &m));

    /* A message the selector does not match does not complete the select. */
    SEND(jobs, "type 1");
    EXPECT(POSTBOX_STATUS_EMPTY, postbox_select_try_wait(s, &index, &m));
    SEND(control, "stop");
    OK(postbox_select_wait(s, &index, &m));
    CHECK(index == 1 && payload_is(&m, "stop"));
    OK(postbox_message_free(&m));
    OK(postbox_mailbox_send(jobs, (const uint8_t *)"type 5", 6, 5, 0, NULL));
    OK(postbox_select_try_wait(s, &index, &m));
    CHECK(index == 0 && payload_is(&m, "type 5"));
    OK(postbox_message_free(&m));

    /* Woken by another process's send to the inbox. */
    pthread_t thread;
    pthread_create(&thread, NULL, send_later, NULL);
    OK(postbox_select_wait(s, &index, &m));
    CHECK(index == 2 && payload_is(&m, "wake"));
    OK(postbox_message_free(&m));
    pthread_join(thread, NULL);

    /* A branch that fails names itself. */
    OK(postbox_mailbox_delete(control));
    index = 99;
    EXPECT(POSTBOX_STATUS_GONE, postbox_select_try_wait(s, &index, &m));
    CHECK(index == 1);
    ERROR_SAYS("receive on branch 1 failed: mailbox is gone");

    /* Every branch belongs to one process. */
    postbox_process other;
    OK(postbox_connect(url, &other));
    postbox_mailbox foreign;
    OK(postbox_mailbox_create(other, "c.select.foreign", (postbox_mailbox_options){0}, &foreign));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_select_add_mailbox(s, foreign, any(), NULL));
    ERROR_SAYS("every branch of a select must belong to the same process");
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_select_add_inbox(s, other, any(), NULL));
    OK(postbox_mailbox_free(foreign));
    OK(postbox_process_free(other));

    OK(postbox_select_free(s));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_select_free(s));
    OK(postbox_mailbox_free(jobs));
    OK(postbox_mailbox_free(control));
    OK(postbox_process_free(p));
    puts("select: ok");
    return 0;
}
