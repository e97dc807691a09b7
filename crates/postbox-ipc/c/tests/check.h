/* Assertions for the System V tests. Each test runs twice — natively against the kernel, and
 * under LD_PRELOAD=libpostbox_ipc.so against postbox — and must pass both ways, so what it
 * checks is Linux's behaviour, not the shim's idea of it. */
#ifndef SYSV_CHECK_H
#define SYSV_CHECK_H

/* MSG_EXCEPT and MSG_COPY are Linux extensions. */
#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n", __FILE__, __LINE__, \
                    #cond, errno, strerror(errno));                                       \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* `call` must fail with -1 and errno `expected`. */
#define FAILS_WITH(expected, call)                                                        \
    do {                                                                                  \
        errno = 0;                                                                        \
        long rc_ = (long)(call);                                                          \
        if (rc_ != -1 || errno != (expected)) {                                           \
            fprintf(stderr, "%s:%d: %s\n  returned %ld, errno %d (%s); expected -1, %s\n",  \
                    __FILE__, __LINE__, #call, rc_, errno, strerror(errno), #expected);   \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

struct text_msg {
    long mtype;
    char mtext[64];
};

/* A key of this test run: distinct per process, so parallel runs never share a queue. */
static inline key_t test_key(int n) {
    return (key_t)(0x50000000 | ((getpid() & 0xfffff) << 4) | n);
}

/* A limit from /proc/sys/kernel (the kernel's, which the shim mirrors), or `fallback`. */
static inline size_t proc_limit(const char *path, size_t fallback) {
    FILE *file = fopen(path, "r");
    unsigned long value = 0;
    if (file == NULL) {
        return fallback;
    }
    if (fscanf(file, "%lu", &value) != 1) {
        value = fallback;
    }
    fclose(file);
    return value;
}

static inline void send_text(int id, long type, const char *text) {
    struct text_msg m;
    m.mtype = type;
    strcpy(m.mtext, text);
    CHECK(msgsnd(id, &m, strlen(text), 0) == 0);
}

#endif
