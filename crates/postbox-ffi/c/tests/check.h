/* Assertions for the C tests: each failure prints where, what, and postbox_last_error(), then
 * exits 1 (tests/c.rs fails on any non-zero exit). Test code only: postbox.h has no macros. */
#ifndef POSTBOX_CHECK_H
#define POSTBOX_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postbox.h"

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n  last error: %s\n", __FILE__,     \
                    __LINE__, #cond, postbox_last_error());                              \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* `call` must return `status`. */
#define EXPECT(status, call)                                                             \
    do {                                                                                 \
        int rc_ = (call);                                                                \
        if (rc_ != (status)) {                                                           \
            fprintf(stderr, "%s:%d: %s\n  returned %s, expected %s\n  last error: %s\n", \
                    __FILE__, __LINE__, #call, postbox_status_name(rc_),                 \
                    postbox_status_name(status), postbox_last_error());                  \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define OK(call) EXPECT(POSTBOX_STATUS_OK, call)

/* The last error mentions `text`. */
#define ERROR_SAYS(text) CHECK(strstr(postbox_last_error(), (text)) != NULL)

/* The node to run against: argv[1] (tests/c.rs passes an inproc:// or unix:// URL). */
static inline const char *test_url(int argc, char **argv) {
    return argc > 1 ? argv[1] : "inproc://c-tests";
}

/* The message's payload equals the NUL-terminated `text`. */
static inline int payload_is(const postbox_message *message, const char *text) {
    return message->len == strlen(text) && memcmp(message->payload, text, message->len) == 0;
}

static inline postbox_selector any(void) {
    postbox_selector s = {POSTBOX_SELECTOR_KIND_ANY, 0, 0};
    return s;
}

static inline postbox_selector of_type(int kind, int64_t mtype) {
    postbox_selector s = {kind, mtype, 0};
    return s;
}

static inline postbox_selector from(uint64_t pid) {
    postbox_selector s = {POSTBOX_SELECTOR_KIND_FROM, 0, pid};
    return s;
}

#define SEND(mailbox, text) \
    OK(postbox_mailbox_send((mailbox), (const uint8_t *)(text), strlen(text), 1, 0, NULL))

#endif
