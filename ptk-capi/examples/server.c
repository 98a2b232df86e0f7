/*
 * server: the shape of a ptk_loop program - one callback with a switch over the event
 * types, and a main that creates a loop, starts a server and waits.
 *
 *   server [PORT]        (default 8080; 0 picks a free port)
 *
 * Every client gets "hello\n" when it connects, and every line it sends is answered with
 * "got N bytes\n". Ctrl-C stops the server.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptk_loop.h"

static void reply(ptk_sock *sock, const char *text) {
    buf *b;
    if (ptk_buf_alloc(&b, strlen(text)) != PTK_OK) {
        return;
    }
    ptk_buf_append(b, text, strlen(text));
    /* ptk_write takes the buffer whatever it returns. */
    ptk_err err = ptk_write(sock, b);
    if (err != PTK_OK) {
        fprintf(stderr, "write: %s\n", ptk_err_string(err));
    }
}

static void server_callback(const ptk_event *event) {
    char text[64];
    switch (event->type) {
    case PTK_EVENT_ACCEPT:
        printf("client %s:%d connected\n", event->remote_host, event->remote_port);
        reply(event->sock, "hello\n");
        break;
    case PTK_EVENT_READ:
        /* A borrowed buffer (the server's default): read it here, never free it. */
        snprintf(text, sizeof text, "got %zu bytes\n", ptk_buf_len(event->data));
        reply(event->sock, text);
        break;
    case PTK_EVENT_WRITE_DONE:
        break;
    case PTK_EVENT_CLOSE:
        printf("a client left\n");
        break;
    case PTK_EVENT_ERROR:
        fprintf(stderr, "%s\n", ptk_err_string(event->error));
        break;
    default:
        break;
    }
    fflush(stdout);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    ptk_loop *loop;
    ptk_err err = ptk_loop_create(&loop, NULL); /* defaults: auto-start threads */
    if (err != PTK_OK) {
        fprintf(stderr, "ptk_loop_create: %s\n", ptk_err_string(err));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ptk_sock *server;
    ptk_tcp_server_opts opts = {
        .bind_host = "127.0.0.1",
        .port = port,
        .callback = server_callback,
        .user_data = NULL,
    };
    err = ptk_tcp_server_start(loop, &server, &opts);
    if (err == PTK_OK) {
        char host[64];
        int bound;
        ptk_sock_get_local_addr(server, host, sizeof host, &bound);
        printf("server: listening on %s:%d\n", host, bound);
        fflush(stdout);
        /* ptk_loop_wait(loop) would wait until a callback calls ptk_loop_stop(); this
           server waits for Ctrl-C instead (only a flag may be set in a signal handler). */
        while (!interrupted && ptk_loop_wait_timeout(loop, 100) == PTK_ERR_TIMEOUT) {
        }
    } else {
        fprintf(stderr, "ptk_tcp_server_start: %s\n", ptk_err_string(err));
    }

    ptk_loop_destroy(loop);
    return err == PTK_OK ? 0 : 1;
}
