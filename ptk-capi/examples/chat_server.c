/*
 * chat_server: a framed chat room on ptk_loop. Every frame (a 4-byte big-endian length, then
 * at most --max-frame bytes) a peer sends goes to every other peer.
 *
 *   chat_server [--bind HOST:PORT] [--max-peers N] [--outbox BYTES] [--send-buffer BYTES]
 *               [--threads N]
 *   defaults: --bind 127.0.0.1:7001 --max-peers 256 --outbox 8192 --max-frame 1024 --threads 1
 *
 * Each peer has a seat with an inbox (the frame it is sending) and a count of the bytes
 * handed to ptk_write for it and not yet written (its outbox). A peer whose outbox would pass
 * --outbox bytes has stopped reading: it is dropped (its socket closed) so that it cannot
 * hold back anyone else. A peer that sends a frame over --max-frame bytes is closed too.
 *
 * What happens is printed on stdout, one line each, for people and for tests:
 *   chat_server: listening on HOST:PORT
 *   join SEAT | refuse | frame SEAT | drop SEAT | leave SEAT
 * Ctrl-C stops the server.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptk_loop.h"

#define HEADER 4

typedef struct {
    ptk_sock *sock; /* NULL: the seat is free */
    uint8_t *inbox; /* HEADER + max_frame bytes */
    size_t have;    /* bytes of the current frame in the inbox */
    size_t queued;  /* bytes written to this peer and not yet sent */
} seat;

typedef struct {
    pthread_mutex_t lock; /* the room is shared by every loop thread */
    seat *seats;
    size_t max_peers;
    size_t outbox;
    size_t max_frame;
    int send_buffer; /* 0: the system's */
} room;

static room the_room = {.lock = PTHREAD_MUTEX_INITIALIZER};
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void say(const char *what, long seat_no) {
    if (seat_no >= 0) {
        printf("%s %ld\n", what, seat_no);
    } else {
        printf("%s\n", what);
    }
    fflush(stdout);
}

/* Frees seat k and closes its socket (its CLOSE event then finds the seat taken or free). */
static void unseat(room *r, size_t k, const char *why) {
    ptk_sock *sock = r->seats[k].sock;
    r->seats[k].sock = NULL;
    r->seats[k].have = 0;
    r->seats[k].queued = 0;
    say(why, (long)k);
    ptk_close(sock);
}

/* Sends the frame in seat `from`'s inbox to every other seated peer. */
static void broadcast(room *r, size_t from, size_t len) {
    say("frame", (long)from);
    for (size_t k = 0; k < r->max_peers; k++) {
        seat *s = &r->seats[k];
        if (k == from || s->sock == NULL) {
            continue;
        }
        if (s->queued + len > r->outbox) {
            unseat(r, k, "drop");
            continue;
        }
        buf *copy;
        if (ptk_buf_alloc(&copy, len) != PTK_OK) {
            unseat(r, k, "drop");
            continue;
        }
        ptk_buf_append(copy, r->seats[from].inbox, len);
        if (ptk_write(s->sock, copy) != PTK_OK) {
            unseat(r, k, "drop");
            continue;
        }
        s->queued += len;
    }
}

static uint32_t announced(const uint8_t *header) {
    return (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 |
           header[3];
}

/* Takes a peer's bytes into its inbox, a frame at a time; false if it sent a bad frame. */
static bool take(room *r, size_t k, const uint8_t *p, size_t len) {
    seat *s = &r->seats[k];
    while (len > 0) {
        size_t want = HEADER;
        if (s->have >= HEADER) {
            want = HEADER + (size_t)announced(s->inbox);
        }
        size_t step = want - s->have < len ? want - s->have : len;
        memcpy(s->inbox + s->have, p, step);
        s->have += step;
        p += step;
        len -= step;
        if (s->have == HEADER && announced(s->inbox) > r->max_frame) {
            return false;
        }
        if (s->have >= HEADER && s->have == HEADER + (size_t)announced(s->inbox)) {
            broadcast(r, k, s->have);
            s->have = 0;
        }
    }
    return true;
}

/* The seat a socket sits in, or -1 (it was dropped, or its seat went to someone else). */
static long seat_of(room *r, const ptk_event *ev) {
    seat *s = ev->user_data;
    if (s == NULL || s < r->seats || s >= r->seats + r->max_peers || s->sock != ev->sock) {
        return -1;
    }
    return (long)(s - r->seats);
}

static void on_event(const ptk_event *ev) {
    room *r = &the_room;
    pthread_mutex_lock(&r->lock);
    long k;
    switch (ev->type) {
    case PTK_EVENT_ACCEPT:
        k = -1;
        for (size_t i = 0; i < r->max_peers; i++) {
            if (r->seats[i].sock == NULL) {
                k = (long)i;
                break;
            }
        }
        if (k < 0 || ptk_sock_set_user_data(ev->sock, &r->seats[k]) != PTK_OK) {
            say("refuse", -1);
            ptk_close(ev->sock);
            break;
        }
        r->seats[k].sock = ev->sock;
        r->seats[k].have = 0;
        r->seats[k].queued = 0;
        if (r->send_buffer > 0) {
            ptk_sock_set_option(ev->sock, PTK_SOCKOPT_SEND_BUFFER, &r->send_buffer,
                                sizeof r->send_buffer);
        }
        say("join", k);
        break;
    case PTK_EVENT_READ:
        k = seat_of(r, ev);
        if (k >= 0 && !take(r, (size_t)k, ptk_buf_data(ev->data), ptk_buf_len(ev->data))) {
            unseat(r, (size_t)k, "leave");
        }
        break;
    case PTK_EVENT_WRITE_DONE:
        k = seat_of(r, ev);
        if (k >= 0) {
            r->seats[k].queued -= ptk_buf_len(ev->data);
        }
        break;
    case PTK_EVENT_CLOSE:
        /* The peer left (or failed) on its own, unless it was dropped already. */
        k = seat_of(r, ev);
        if (k >= 0) {
            r->seats[k].sock = NULL;
            say("leave", k);
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&r->lock);
}

static int usage(void) {
    fprintf(stderr, "usage: chat_server [--bind HOST:PORT] [--max-peers N] [--outbox BYTES] "
                    "[--send-buffer BYTES] [--max-frame BYTES] [--threads N]\n");
    return 2;
}

int main(int argc, char **argv) {
    char host[256] = "127.0.0.1";
    int port = 7001;
    size_t threads = 1;
    room *r = &the_room;
    r->max_peers = 256;
    r->outbox = 8192;
    r->max_frame = 1024;
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL) {
            return usage();
        } else if (strcmp(argv[i], "--bind") == 0) {
            const char *colon = strrchr(value, ':');
            if (colon == NULL || (size_t)(colon - value) >= sizeof host) {
                return usage();
            }
            memcpy(host, value, (size_t)(colon - value));
            host[colon - value] = '\0';
            port = atoi(colon + 1);
        } else if (strcmp(argv[i], "--max-peers") == 0) {
            r->max_peers = (size_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--outbox") == 0) {
            r->outbox = (size_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--send-buffer") == 0) {
            r->send_buffer = atoi(value);
        } else if (strcmp(argv[i], "--max-frame") == 0) {
            r->max_frame = (size_t)strtoul(value, NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = (size_t)strtoul(value, NULL, 10);
        } else {
            return usage();
        }
    }
    if (r->max_peers == 0) {
        return usage();
    }
    r->seats = calloc(r->max_peers, sizeof *r->seats);
    if (r->seats == NULL) {
        return 1;
    }
    for (size_t i = 0; i < r->max_peers; i++) {
        r->seats[i].inbox = malloc(HEADER + r->max_frame);
        if (r->seats[i].inbox == NULL) {
            return 1;
        }
    }

    ptk_loop *loop;
    ptk_loop_opts lopts = {.worker_threads = threads, .auto_start = true};
    ptk_err err = ptk_loop_create(&loop, &lopts);
    if (err != PTK_OK) {
        fprintf(stderr, "ptk_loop_create: %s\n", ptk_err_string(err));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ptk_tcp_server_opts opts = ptk_tcp_server_opts_default();
    opts.bind_host = host;
    opts.port = port;
    opts.callback = on_event;
    ptk_sock *listener;
    err = ptk_tcp_server_start(loop, &listener, &opts);
    if (err == PTK_OK) {
        char bound[64];
        int bound_port;
        ptk_sock_get_local_addr(listener, bound, sizeof bound, &bound_port);
        printf("chat_server: listening on %s:%d\n", bound, bound_port);
        fflush(stdout);
        while (!interrupted && ptk_loop_wait_timeout(loop, 100) == PTK_ERR_TIMEOUT) {
        }
    } else {
        fprintf(stderr, "chat_server: %s:%d: %s\n", host, port, ptk_err_string(err));
    }
    ptk_loop_destroy(loop);
    for (size_t i = 0; i < r->max_peers; i++) {
        free(r->seats[i].inbox);
    }
    free(r->seats);
    return err == PTK_OK ? 0 : 1;
}
