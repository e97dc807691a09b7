/* Bad input is an error code and a clear postbox_last_error(), never a crash: null pointers,
 * text that is not UTF-8, bad names, unknown enum values, freed and foreign handles, double
 * frees, messages breaking the size rules, bad URLs, small buffers. */
#include "check.h"

int main(int argc, char **argv) {
    const char *url = test_url(argc, argv);
    postbox_process p;
    postbox_mailbox_options defaults = {0};
    postbox_message m;

    /* Connecting. */
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_connect(NULL, &p));
    ERROR_SAYS("postbox_connect: url is a null pointer");
    EXPECT(POSTBOX_STATUS_INVALID_URL, postbox_connect("http://nowhere", &p));
    ERROR_SAYS("invalid postbox URL");
    CHECK(p.id == 0);
    EXPECT(POSTBOX_STATUS_UNREACHABLE, postbox_connect("unix:///nonexistent/postbox.sock", &p));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_connect(url, NULL));
    ERROR_SAYS("out is a null pointer");
    EXPECT(POSTBOX_STATUS_INVALID_TOKEN,
           postbox_connect_with_token("inproc://c-errors", (const uint8_t *)"", 0, &p));

    OK(postbox_connect(url, &p));

    /* Names. */
    postbox_mailbox mb;
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_create(p, NULL, defaults, &mb));
    ERROR_SAYS("name is a null pointer");
    const char not_utf8[] = {'a', (char)0xff, 0};
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_create(p, not_utf8, defaults, &mb));
    ERROR_SAYS("name is not valid UTF-8");
    EXPECT(POSTBOX_STATUS_INVALID_NAME, postbox_mailbox_create(p, "has space", defaults, &mb));
    EXPECT(POSTBOX_STATUS_INVALID_NAME, postbox_mailbox_create(p, "", defaults, &mb));
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    EXPECT(POSTBOX_STATUS_INVALID_NAME, postbox_mailbox_create(p, long_name, defaults, &mb));
    EXPECT(POSTBOX_STATUS_NOT_FOUND, postbox_mailbox_open(p, "c.errors.absent", &mb));
    EXPECT(POSTBOX_STATUS_INVALID_NAME, postbox_process_register(p, "bad name"));
    uint64_t pid;
    EXPECT(POSTBOX_STATUS_NOT_FOUND, postbox_process_whereis(p, "c.errors.nobody", &pid));
    ERROR_SAYS("no live process is registered as \"c.errors.nobody\"");

    /* Options: unknown enum values, and contradictions found at create. */
    postbox_mailbox_options o;
    OK(postbox_mailbox_options_new(&o));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_order(o, 7));
    ERROR_SAYS("7 is not a postbox_order");
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_capacity(o, -1, 0, 0));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_size(o, 2, 10));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_overflow(o, 2));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_ownership(o, 2));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_receivers(o, 6));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_options_set_mode(o, 01000));
    OK(postbox_mailbox_options_set_capacity(o, POSTBOX_CAPACITY_ZERO, 0, 0));
    OK(postbox_mailbox_options_set_overflow(o, POSTBOX_OVERFLOW_DROP_OLDEST));
    EXPECT(POSTBOX_STATUS_INVALID_ATTRIBUTES, postbox_mailbox_create(p, "c.errors.bad", o, &mb));
    ERROR_SAYS("drop-oldest overflow needs a bounded capacity");
    OK(postbox_mailbox_options_free(o));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_options_free(o));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_create(p, "c.errors.x", o, &mb));

    /* Message rules. */
    OK(postbox_mailbox_options_new(&o));
    OK(postbox_mailbox_options_set_size(o, POSTBOX_SIZE_VARIABLE, 4));
    OK(postbox_mailbox_create(p, "c.errors.small", o, &mb));
    OK(postbox_mailbox_options_free(o));
    EXPECT(POSTBOX_STATUS_TOO_LARGE, postbox_mailbox_try_send(mb, (const uint8_t *)"12345", 5, 1, 0, NULL));
    ERROR_SAYS("message too large");
    EXPECT(POSTBOX_STATUS_INVALID_TYPE, postbox_mailbox_try_send(mb, (const uint8_t *)"1", 1, 0, 0, NULL));
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_try_send(mb, NULL, 3, 1, 0, NULL));
    ERROR_SAYS("payload is a null pointer");
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_try_recv(mb, NULL));
    ERROR_SAYS("message is a null pointer");
    postbox_selector bad = {99, 0, 0};
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_try_recv_matching(mb, bad, &m));
    ERROR_SAYS("selector kind 99 is not a postbox_selector_kind");

    /* Buffers too small say how much is needed. */
    char tiny[4];
    size_t len = 0;
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_name(mb, tiny, sizeof tiny, &len));
    CHECK(len == strlen("c.errors.small"));
    ERROR_SAYS("a buffer of 4 bytes is too small: 15 are needed");
    EXPECT(POSTBOX_STATUS_INVALID_ARGUMENT, postbox_mailbox_set_mode(mb, 010000));

    /* Freed, null and foreign handles. */
    OK(postbox_mailbox_free(mb));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_free(mb));
    ERROR_SAYS("not a postbox_mailbox handle");
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_try_send(mb, (const uint8_t *)"x", 1, 1, 0, NULL));
    postbox_mailbox null_mailbox = {0};
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_try_recv(null_mailbox, &m));
    ERROR_SAYS("the null handle");
    postbox_mailbox forged = {p.id}; /* a process's number is no mailbox */
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_mailbox_stat(forged, NULL));
    postbox_select s = {0};
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_select_wait(s, NULL, &m));
    postbox_lease l = {0};
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_lease_ack(l));

    /* A stale copy of a freed message is refused; the payload was released once. */
    OK(postbox_mailbox_create(p, "c.errors.copy", defaults, &mb));
    SEND(mb, "x");
    OK(postbox_mailbox_recv(mb, &m));
    postbox_message copy = m;
    OK(postbox_message_free(&m));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_message_free(&copy));
    OK(postbox_mailbox_free(mb));

    /* The last error is per thread and stays until the next failure. */
    OK(postbox_process_pid(p, &pid));
    ERROR_SAYS("postbox_message_free");

    OK(postbox_process_free(p));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_process_free(p));
    EXPECT(POSTBOX_STATUS_BAD_HANDLE, postbox_process_pid(p, &pid));
    puts("errors: ok");
    return 0;
}
