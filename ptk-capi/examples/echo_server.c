/*
 * echo_server: the framed echo server (a 4-byte big-endian length, then that many bytes)
 * on ptk_loop, the same protocol as the Rust examples/echo_server.rs and the benchmark's
 * servers.
 *
 *   echo_server [--bind HOST:PORT] [--threads N] [--messages M] [--max-frame BYTES] [--quiet]
 *   defaults: --bind 127.0.0.1:7000 --threads 1 (0: one per CPU) --max-frame 16384
 *
 * Reads take the buffer (PTK_BUF_TRANSFER) and hand that very buffer back to ptk_write, so
 * the bytes are echoed without a copy and in order; the callback only follows the frame
 * headers to count frames and to refuse a frame over --max-frame. With --messages the server
 * stops after that many frames (the benchmark's mode) and prints
 *   report server=c-ptk frames=F
 * on stderr. Ctrl-C stops it too.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptk_loop.h"

#define HEADER 4

/* Where a connection is in its byte stream: inside a header or inside a payload. */
typedef struct {
    uint8_t header[HEADER];
    size_t have_header; /* header bytes seen of the current frame */
    uint32_t remaining; /* payload bytes still to come of the current frame */
} conn;

typedef struct {
    ptk_loop *loop;
    uint64_t max_messages; /* 0: unbounded */
    uint32_t max_frame;
    int quiet;
} server;

static server srv;
static volatile sig_atomic_t interrupted;
/* Frames echoed by every loop thread (the threads share it). */
static _Atomic uint64_t frames;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Follows the frames in `len` bytes; returns how many ended, or -1 for an oversized one. */
static long follow(conn *c, const uint8_t *p, size_t len, uint32_t max_frame) {
    long ended = 0;
    while (len > 0) {
        if (c->remaining > 0) {
            size_t take = len < c->remaining ? len : c->remaining;
            c->remaining -= (uint32_t)take;
            p += take;
            len -= take;
            if (c->remaining == 0) {
                ended++;
            }
            continue;
        }
        if (c->have_header == 0 && len >= HEADER) {
            /* A whole header in this read (the usual case): take it at once. */
            memcpy(c->header, p, HEADER);
            c->have_header = HEADER;
            p += HEADER;
            len -= HEADER;
        } else {
            c->header[c->have_header++] = *p++;
            len--;
        }
        if (c->have_header == HEADER) {
            uint32_t n = (uint32_t)c->header[0] << 24 | (uint32_t)c->header[1] << 16 |
                         (uint32_t)c->header[2] << 8 | c->header[3];
            c->have_header = 0;
            if (n > max_frame) {
                return -1;
            }
            c->remaining = n;
            if (n == 0) {
                ended++;
            }
        }
    }
    return ended;
}

static void on_event(const ptk_event *ev) {
    conn *c;
    switch (ev->type) {
    case PTK_EVENT_ACCEPT:
        c = calloc(1, sizeof *c);
        if (c == NULL || ptk_sock_set_user_data(ev->sock, c) != PTK_OK) {
            free(c);
            ptk_close(ev->sock);
            break;
        }
        {
            int on = 1;
            ptk_sock_set_option(ev->sock, PTK_SOCKOPT_NO_DELAY, &on, sizeof on);
        }
        if (!srv.quiet) {
            printf("%s:%d connected\n", ev->remote_host, ev->remote_port);
            fflush(stdout);
        }
        break;
    case PTK_EVENT_READ: {
        /* The buffer is ours (PTK_BUF_TRANSFER): it goes back out as it came. */
        buf *data = ev->data;
        c = ev->user_data;
        long ended = c == NULL ? -1 : follow(c, ptk_buf_data(data), ptk_buf_len(data), srv.max_frame);
        if (ended < 0) {
            ptk_buf_free(data);
            ptk_close(ev->sock);
            break;
        }
        if (ptk_write(ev->sock, data) != PTK_OK) {
            ptk_close(ev->sock);
            break;
        }
        if (ended > 0) {
            uint64_t total = frames += (uint64_t)ended;
            if (srv.max_messages != 0 && total >= srv.max_messages &&
                total - (uint64_t)ended < srv.max_messages) {
                ptk_loop_stop(srv.loop);
            }
        }
        break;
    }
    case PTK_EVENT_CLOSE:
        /* The last event of a socket: its state goes with it. */
        free(ev->user_data);
        break;
    case PTK_EVENT_ERROR:
        if (!srv.quiet) {
            fprintf(stderr, "connection error: %s\n", ptk_err_string(ev->error));
        }
        break;
    default:
        break;
    }
}

static int usage(void) {
    fprintf(stderr, "usage: echo_server [--bind HOST:PORT] [--threads N] [--messages M] "
                    "[--max-frame BYTES] [--quiet]\n"
                    "defaults: --bind 127.0.0.1:7000 --threads 1 --max-frame 16384\n");
    return 2;
}

int main(int argc, char **argv) {
    char host[256] = "127.0.0.1";
    int port = 7000;
    size_t threads = 1;
    srv.max_frame = 16384;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--quiet") == 0) {
            srv.quiet = 1;
        } else if (value == NULL) {
            return usage();
        } else if (strcmp(argv[i], "--bind") == 0) {
            const char *colon = strrchr(value, ':');
            if (colon == NULL || (size_t)(colon - value) >= sizeof host) {
                return usage();
            }
            memcpy(host, value, (size_t)(colon - value));
            host[colon - value] = '\0';
            port = atoi(colon + 1);
            i++;
        } else if (strcmp(argv[i], "--threads") == 0) {
            threads = (size_t)strtoul(value, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--messages") == 0) {
            srv.max_messages = strtoull(value, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--max-frame") == 0) {
            srv.max_frame = (uint32_t)strtoul(value, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--max-connections") == 0) {
            i++; /* accepted for the benchmark scripts; connections are not limited */
        } else {
            return usage();
        }
    }

    ptk_loop_opts lopts = {.worker_threads = threads, .auto_start = true};
    ptk_err err = ptk_loop_create(&srv.loop, &lopts);
    if (err != PTK_OK) {
        fprintf(stderr, "ptk_loop_create: %s\n", ptk_err_string(err));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ptk_tcp_server_opts opts = ptk_tcp_server_opts_default();
    opts.bind_host = host;
    opts.port = port;
    opts.backlog = 1024;
    opts.callback = on_event;
    opts.read_ownership = PTK_BUF_TRANSFER;
    ptk_sock *listener;
    err = ptk_tcp_server_start(srv.loop, &listener, &opts);
    if (err != PTK_OK) {
        fprintf(stderr, "echo_server: %s:%d: %s\n", host, port, ptk_err_string(err));
        ptk_loop_destroy(srv.loop);
        return 1;
    }
    char bound[64];
    int bound_port;
    ptk_sock_get_local_addr(listener, bound, sizeof bound, &bound_port);
    printf("echo_server: listening on %s:%d (%zu threads)\n", bound, bound_port, threads);
    fflush(stdout);

    while (!interrupted && ptk_loop_wait_timeout(srv.loop, 100) == PTK_ERR_TIMEOUT) {
    }
    ptk_loop_destroy(srv.loop);
    fprintf(stderr, "report server=c-ptk frames=%llu\n", (unsigned long long)frames);
    return 0;
}
