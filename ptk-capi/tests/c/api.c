/*
 * api: the C API's behaviour, printed as a trace the Rust test (tests/c_api.rs) compares
 * exactly. Built with AddressSanitizer and UndefinedBehaviorSanitizer: a leak, an invalid
 * access or undefined behaviour on any path below fails the test too.
 *
 * One worker thread, so that each socket's events come in a fixed order; the main thread
 * waits for what a step expects (bounded: a step that times out prints TIMEOUT and exits 1).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ptk_loop.h"

/* ----- a log the callbacks write and the main thread prints ----- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static char trace[1 << 16];
static size_t trace_len;
static int events; /* events logged so far */

static void note(const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&lock);
    va_start(ap, fmt);
    int n = vsnprintf(trace + trace_len, sizeof trace - trace_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof trace - trace_len) {
        trace_len += (size_t)n;
    }
    events++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* Prints the log grouped by socket name (the word before ':'), each socket's lines in the
   order they came: one socket's events have a fixed order, different sockets' do not. */
static void print_by_socket(void) {
    char *lines[512];
    size_t n = 0;
    for (char *p = strtok(trace, "\n"); p != NULL && n < 512; p = strtok(NULL, "\n")) {
        lines[n++] = p;
    }
    for (size_t i = 1; i < n; i++) { /* stable insertion sort by name */
        char *line = lines[i];
        size_t len = strcspn(line, ":");
        size_t j = i;
        while (j > 0) {
            size_t prev = strcspn(lines[j - 1], ":");
            size_t m = len < prev ? len : prev;
            int c = strncmp(lines[j - 1], line, m);
            if (c < 0 || (c == 0 && prev <= len)) {
                break;
            }
            lines[j] = lines[j - 1];
            j--;
        }
        lines[j] = line;
    }
    for (size_t i = 0; i < n; i++) {
        puts(lines[i]);
    }
}

/* Waits until `*counter` reaches `target` (5 s at most), then prints and clears the log. */
static void wait_for(const char *what, const int *counter, int target) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&lock);
    while (*counter < target) {
        if (pthread_cond_timedwait(&changed, &lock, &deadline) != 0) {
            printf("TIMEOUT waiting for %s (%d of %d)\n%s", what, *counter, target, trace);
            fflush(stdout);
            exit(1);
        }
    }
    print_by_socket();
    trace_len = 0;
    trace[0] = '\0';
    pthread_mutex_unlock(&lock);
    fflush(stdout);
}

static const char *err(ptk_err e) { return ptk_err_string(e); }

#define CHECK(call) printf("%-58s -> %s\n", #call, err(call))

static const char *own(ptk_buf_ownership o) {
    return o == PTK_BUF_TRANSFER ? "TRANSFER" : "BORROWED";
}

/* ----- the callbacks ----- */

/* Every socket of these tests has a name as its user_data (a string). */
static void log_event(const ptk_event *ev) {
    const char *who = ev->user_data ? (const char *)ev->user_data : "?";
    switch (ev->type) {
    case PTK_EVENT_READ:
    case PTK_EVENT_UDP_READ:
    case PTK_EVENT_WRITE_DONE:
    case PTK_EVENT_UDP_WRITE_DONE:
        note("  %s: %s %zu \"%.*s\" %s\n", who, ptk_event_string(ev->type), ptk_buf_len(ev->data),
             (int)ptk_buf_len(ev->data), (const char *)ptk_buf_data(ev->data), own(ev->ownership));
        break;
    case PTK_EVENT_ERROR:
        note("  %s: %s %s\n", who, ptk_event_string(ev->type), err(ev->error));
        break;
    case PTK_EVENT_ACCEPT:
    case PTK_EVENT_CONNECT:
        note("  %s: %s from %s\n", who, ptk_event_string(ev->type), ev->remote_host);
        break;
    default:
        note("  %s: %s\n", who, ptk_event_string(ev->type));
        break;
    }
}

static void send_text(ptk_sock *sock, const char *text) {
    buf *b;
    if (ptk_buf_alloc(&b, strlen(text)) != PTK_OK) {
        note("  alloc failed\n");
        return;
    }
    ptk_buf_append(b, text, strlen(text));
    ptk_err e = ptk_write(sock, b);
    if (e != PTK_OK) {
        note("  write failed: %s\n", err(e));
    }
}

/* The echo server: accepted connections are named "conn", reads (TRANSFER) go back out. */
static void echo_server(const ptk_event *ev) {
    if (ev->type == PTK_EVENT_ACCEPT) {
        ptk_sock_set_user_data(ev->sock, "conn");
    }
    log_event(ev);
    if (ev->type == PTK_EVENT_READ) {
        ptk_err e = ptk_write(ev->sock, ev->data); /* the transferred buffer, sent back */
        if (e != PTK_OK) {
            note("  echo failed: %s\n", err(e));
        }
    }
}

/* A client: says "ping" when connected, closes after the echo. Reads are borrowed, and
   the misuses of a borrowed buffer are refused. */
static void ping_client(const ptk_event *ev) {
    log_event(ev);
    if (ev->type == PTK_EVENT_CONNECT) {
        send_text(ev->sock, "ping");
    } else if (ev->type == PTK_EVENT_READ) {
        note("  client: borrowed write -> %s, set_len -> %s\n", err(ptk_write(ev->sock, ev->data)),
             err(ptk_buf_set_len(ev->data, 0)));
        ptk_buf_free(ev->data); /* ignored: not ours */
        note("  client: still \"%.*s\"\n", (int)ptk_buf_len(ev->data),
             (const char *)ptk_buf_data(ev->data));
        ptk_close(ev->sock);
    }
}

static int ticks;
static void ticker(const ptk_event *ev) {
    log_event(ev);
    if (ev->type == PTK_EVENT_TICK && ++ticks == 3) {
        note("  timer: stop -> %s\n", err(ptk_timer_stop(ev->sock)));
    }
}

static void waker(const ptk_event *ev) {
    if (ev->type == PTK_EVENT_WAKE) {
        note("  %s: %s with %s\n", (const char *)"timer", ptk_event_string(ev->type),
             (const char *)ev->user_data);
    } else {
        log_event(ev);
    }
}

static void posted(void *arg) { note("  posted: %s\n", (const char *)arg); }

/* From a callback: waiting is refused, destroying only stops the loop. */
static void stop_from_inside(void *arg) {
    ptk_loop *loop = arg;
    note("  inside: wait -> %s\n", err(ptk_loop_wait_timeout(loop, 1)));
    ptk_loop_destroy(loop);
    note("  inside: running %d\n", (int)ptk_loop_is_running(loop));
}

static void udp_peer(const ptk_event *ev) {
    log_event(ev);
    if (ev->type == PTK_EVENT_UDP_READ) {
        note("  b: from %s\n", ev->remote_host);
        ptk_buf_free(ev->data); /* TRANSFER: ours to free */
    }
}

/* The destroy test's server: every connection gets malloc'd state, freed at its CLOSE. */
static int closes_at_destroy;
static void stateful_server(const ptk_event *ev) {
    if (ev->type == PTK_EVENT_ACCEPT) {
        ptk_sock_set_user_data(ev->sock, malloc(64));
        note("  stateful: ACCEPT\n");
    } else if (ev->type == PTK_EVENT_CLOSE) {
        void *state = NULL;
        ptk_sock_get_user_data(ev->sock, &state);
        if (state != ev->user_data) {
            note("  stateful: user data mismatch\n");
        }
        if (ev->user_data != (void *)"server") {
            free(ev->user_data);
        }
        __atomic_add_fetch(&closes_at_destroy, 1, __ATOMIC_SEQ_CST);
    }
}

static void quiet(const ptk_event *ev) { (void)ev; }

/* A blocking POSIX client of 127.0.0.1:port. */
static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static int port_of(ptk_sock *s) {
    char host[64];
    int port = 0;
    ptk_sock_get_local_addr(s, host, sizeof host, &port);
    return port;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    ptk_loop *loop;
    ptk_sock *s;
    buf *b;

    puts("== invalid parameters");
    ptk_tcp_server_opts so = ptk_tcp_server_opts_default();
    so.bind_host = "127.0.0.1";
    so.callback = quiet;
    ptk_tcp_client_opts co = ptk_tcp_client_opts_default();
    co.host = "127.0.0.1";
    co.port = 9;
    co.callback = quiet;
    ptk_loop_opts one = {.worker_threads = 1, .auto_start = true};
    CHECK(ptk_loop_create(NULL, NULL));
    CHECK(ptk_loop_create(&loop, &one));
    CHECK(ptk_tcp_server_start(NULL, &s, &so));
    CHECK(ptk_tcp_server_start(loop, NULL, &so));
    CHECK(ptk_tcp_server_start(loop, &s, NULL));
    so.port = -1;
    CHECK(ptk_tcp_server_start(loop, &s, &so));
    so.port = 70000;
    CHECK(ptk_tcp_server_start(loop, &s, &so));
    so.port = 0;
    so.bind_host = "no such host";
    CHECK(ptk_tcp_server_start(loop, &s, &so));
    so.bind_host = "127.0.0.1";
    so.read_ownership = (ptk_buf_ownership)7;
    CHECK(ptk_tcp_server_start(loop, &s, &so));
    so.read_ownership = PTK_BUF_BORROWED;
    so.callback = NULL;
    CHECK(ptk_tcp_server_start(loop, &s, &so));
    so.callback = quiet;
    co.host = NULL;
    CHECK(ptk_tcp_connect(loop, &s, &co));
    co.host = "127.0.0.1";
    co.port = 0;
    CHECK(ptk_tcp_connect(loop, &s, &co));
    ptk_timer_opts to = {.timeout_ms = 0, .callback = quiet};
    CHECK(ptk_timer_start(loop, &s, &to));
    CHECK(ptk_write(NULL, NULL));
    ptk_buf_alloc(&b, 8);
    CHECK(ptk_write(NULL, b)); /* takes (frees) b all the same */
    ptk_buf_alloc(&b, 8);
    CHECK(ptk_write((ptk_sock *)(uintptr_t)0x7700, b));
    CHECK(ptk_close(NULL));
    CHECK(ptk_close((ptk_sock *)(uintptr_t)0x7700));
    CHECK(ptk_sock_wake(NULL, NULL));
    CHECK(ptk_loop_post(loop, NULL, NULL));
    CHECK(ptk_loop_post(NULL, posted, NULL));
    CHECK(ptk_buf_alloc(NULL, 8));
    CHECK(ptk_buf_alloc(&b, 0));
    CHECK(ptk_buf_alloc(&b, (size_t)1 << 30));
    CHECK(ptk_buf_set_len(NULL, 0));
    CHECK(ptk_buf_append(NULL, "x", 1));
    ptk_buf_free(NULL);
    printf("%-58s -> %zu %zu %s\n", "ptk_buf_len(NULL) ptk_buf_capacity(NULL) ptk_buf_data(NULL)",
           ptk_buf_len(NULL), ptk_buf_capacity(NULL), ptk_buf_data(NULL) ? "ptr" : "NULL");
    printf("%-58s -> %s\n", "ptk_err_string(99)", ptk_err_string((ptk_err)99));
    printf("%-58s -> %s\n", "ptk_event_string(99)", ptk_event_string((ptk_event_type)99));

    puts("== buffers");
    CHECK(ptk_buf_alloc(&b, 4));
    CHECK(ptk_buf_append(b, "abc", 3));
    printf("len %zu, capacity at least 4: %s\n", ptk_buf_len(b), ptk_buf_capacity(b) >= 4 ? "yes" : "no");
    CHECK(ptk_buf_set_len(b, ptk_buf_capacity(b) + 1));
    CHECK(ptk_buf_set_len(b, 2));
    printf("\"%.*s\"\n", (int)ptk_buf_len(b), (const char *)ptk_buf_data(b));
    ptk_buf_free(b);

    puts("== echo: a TRANSFER server, a BORROWED client");
    ptk_sock *server, *client;
    so.callback = echo_server;
    so.user_data = "server";
    so.read_ownership = PTK_BUF_TRANSFER;
    CHECK(ptk_tcp_server_start(loop, &server, &so));
    co.port = port_of(server);
    co.callback = ping_client;
    co.user_data = "client";
    int before = events;
    CHECK(ptk_tcp_connect(loop, &client, &co));
    /* client CONNECT, WRITE_DONE, READ, 2 notes, CLOSE; server ACCEPT, READ, WRITE_DONE,
       CLOSE of the connection */
    wait_for("the echo", &events, before + 10);
    ptk_sock_type t = PTK_SOCK_TIMER;
    CHECK(ptk_sock_get_type(server, &t));
    printf("type %d\n", (int)t);
    CHECK(ptk_write(client, NULL));
    ptk_buf_alloc(&b, 4);
    CHECK(ptk_write(client, b)); /* closed: refused, and b freed */

    puts("== refused connect");
    ptk_sock *gone;
    so.callback = quiet;
    so.user_data = NULL;
    so.read_ownership = PTK_BUF_BORROWED;
    CHECK(ptk_tcp_server_start(loop, &gone, &so));
    co.port = port_of(gone);
    CHECK(ptk_close(gone));
    CHECK(ptk_close(gone));
    before = events;
    co.callback = log_event;
    co.user_data = "refused";
    CHECK(ptk_tcp_connect(loop, &client, &co));
    wait_for("the refusal", &events, before + 2);

    puts("== peer reset");
    so.callback = log_event;
    so.user_data = "reset";
    CHECK(ptk_tcp_server_start(loop, &server, &so));
    before = events;
    int fd = raw_connect(port_of(server));
    wait_for("the accept", &events, before + 1);
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    close(fd);
    wait_for("the reset", &events, before + 3);
    CHECK(ptk_close(server));
    wait_for("the server's close", &events, before + 4);

    puts("== timers, wake, post");
    ptk_sock *timer;
    to.timeout_ms = 5;
    to.repeat = true;
    to.callback = ticker;
    to.user_data = "timer";
    before = events;
    CHECK(ptk_timer_start(loop, &timer, &to));
    wait_for("three ticks and the close", &events, before + 5);
    CHECK(ptk_timer_stop(timer));
    to.timeout_ms = 60000;
    to.repeat = false;
    to.callback = waker;
    CHECK(ptk_timer_start(loop, &timer, &to));
    before = events;
    CHECK(ptk_sock_wake(timer, "hello"));
    wait_for("the wake", &events, before + 1);
    CHECK(ptk_loop_post(loop, posted, "a call"));
    wait_for("the posted call", &events, before + 2);
    to.timeout_ms = 1;
    to.callback = log_event;
    to.user_data = "one-shot";
    CHECK(ptk_timer_start(loop, &s, &to));
    wait_for("the one-shot", &events, before + 4);

    puts("== UDP");
    ptk_sock *ua, *ub;
    ptk_udp_opts uo = ptk_udp_opts_default();
    uo.bind_host = "127.0.0.1";
    uo.callback = udp_peer;
    uo.user_data = "a";
    CHECK(ptk_udp_create(loop, &ua, &uo));
    uo.user_data = "b";
    uo.read_ownership = PTK_BUF_TRANSFER;
    CHECK(ptk_udp_create(loop, &ub, &uo));
    ptk_buf_alloc(&b, 5);
    ptk_buf_append(b, "dgram", 5);
    before = events;
    CHECK(ptk_udp_send(ua, b, "127.0.0.1", port_of(ub)));
    wait_for("the datagram", &events, before + 3);
    ptk_buf_alloc(&b, 5);
    CHECK(ptk_udp_send(ua, b, NULL, 1));
    ptk_buf_alloc(&b, 5);
    CHECK(ptk_udp_send(ua, b, "127.0.0.1", -5));

    puts("== socket options");
    int on = 1, size = 0;
    size_t len = sizeof size;
    bool flag = false;
    size_t flag_len = sizeof flag;
    CHECK(ptk_sock_set_option(ua, PTK_SOCKOPT_RECV_BUFFER, &on, 0));
    CHECK(ptk_sock_set_option(ua, (ptk_sockopt)42, &on, sizeof on));
    CHECK(ptk_sock_set_option(ua, PTK_SOCKOPT_RECV_BUFFER, NULL, sizeof on));
    CHECK(ptk_sock_get_option(ua, PTK_SOCKOPT_RECV_BUFFER, &size, NULL));
    CHECK(ptk_sock_get_option(ua, PTK_SOCKOPT_RECV_BUFFER, &size, &len));
    printf("receive buffer set: %s\n", size > 0 ? "yes" : "no");
    CHECK(ptk_sock_get_option(ua, PTK_SOCKOPT_REUSE_ADDR, &flag, &flag_len));
    printf("reuse_addr %d\n", (int)flag);

    puts("== destroy while running");
    ptk_loop *busy;
    CHECK(ptk_loop_create(&busy, &one));
    so.callback = stateful_server;
    so.user_data = "server";
    CHECK(ptk_tcp_server_start(busy, &server, &so));
    before = events;
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = raw_connect(port_of(server));
    }
    wait_for("three accepts", &events, before + 3);
    CHECK(ptk_buf_alloc(&b, 8)); /* from the newest loop's pool, kept past its destroy */
    printf("running %d\n", (int)ptk_loop_is_running(busy));
    ptk_loop_destroy(busy);
    printf("closes delivered %d\n", closes_at_destroy);
    ptk_buf_free(b);
    printf("running %d\n", (int)ptk_loop_is_running(busy));
    CHECK(ptk_loop_wait_timeout(busy, 1));
    CHECK(ptk_tcp_server_start(busy, &server, &so));
    CHECK(ptk_close(server));
    ptk_loop_destroy(busy); /* a second time: ignored */
    for (int i = 0; i < 3; i++) {
        close(fds[i]);
    }

    puts("== stop and wait");
    printf("running %d\n", (int)ptk_loop_is_running(loop));
    CHECK(ptk_loop_wait_timeout(loop, 10));
    before = events;
    CHECK(ptk_loop_post(loop, stop_from_inside, loop));
    wait_for("the stop from inside", &events, before + 2);
    CHECK(ptk_loop_wait(loop));
    ptk_loop_stop(loop);
    printf("running %d\n", (int)ptk_loop_is_running(loop));
    ptk_loop_destroy(loop);
    puts("== done");
    return 0;
}
