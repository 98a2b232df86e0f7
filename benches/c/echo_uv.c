/*
 * echo_uv: the framed echo server of the ptk benchmark, written on libuv.
 *
 *   echo_uv --bind 127.0.0.1:0 --max-connections 10000 --messages 1000000
 *
 * Same job, flags and report as the Rust servers of benches/src/bin: frames of a 4-byte
 * big-endian length and a payload of at most --max-frame bytes come in, whole frames go back.
 * Written the way a competent libuv user would: one loop, a listener with a backlog of 1024,
 * TCP_NODELAY on every connection, one malloc'd block per connection (its handle, its state
 * and a buffer of 4 + max-frame bytes) that uv_read_start's alloc_cb hands out, whole frames
 * written back with uv_try_write, and only when that does not take everything a uv_write of
 * the rest, with reading stopped until it completes.
 *
 * libuv reads with the short-read rule itself (uv__read returns after a read that did not fill
 * the buffer), so it makes one read per message; its epoll is level-triggered.
 *
 * Allocations: every malloc/calloc/realloc libuv makes goes through counting wrappers installed
 * with uv_replace_allocator, and this file allocates through the same wrappers; counting starts
 * once the listener is ready. At exit the server prints on stderr
 *   report server=uv frames=F allocs=A alloc_bytes=B steady_frames=SF steady_allocs=SA
 *   cpu_us=C steady_cpu_us=SC peak_rss_kb=K
 * with the steady window between a quarter and three quarters of --messages, as meter.rs.
 *
 * Build: cc -O2 -g -std=c99 echo_uv.c $(pkg-config --cflags --libs libuv)
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <uv.h>

#define HEADER 4
#define BACKLOG 1024

static const char USAGE[] =
    "usage: echo_uv [flags]\n"
    "flags: --bind ADDR:PORT (127.0.0.1:0) --max-connections N (1024) "
    "--messages M (unbounded) --max-frame BYTES (1024)\n";

/* ----- counting allocator ----- */

static int armed;
static uint64_t alloc_count;
static uint64_t alloc_bytes;

static void note(size_t bytes) {
    if (armed) {
        alloc_count++;
        alloc_bytes += bytes;
    }
}

static void *count_malloc(size_t size) {
    note(size);
    return malloc(size);
}

static void *count_realloc(void *ptr, size_t size) {
    note(size);
    return realloc(ptr, size);
}

static void *count_calloc(size_t count, size_t size) {
    note(count * size);
    return calloc(count, size);
}

static void count_free(void *ptr) { free(ptr); }

/* ----- the meter (benches/src/meter.rs) ----- */

struct mark {
    uint64_t frames, allocs, bytes, cpu_us;
};

static uint64_t cpu_time_us(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return (uint64_t)u.ru_utime.tv_sec * 1000000 + (uint64_t)u.ru_utime.tv_usec +
           (uint64_t)u.ru_stime.tv_sec * 1000000 + (uint64_t)u.ru_stime.tv_usec;
}

static uint64_t peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    int found = 0;
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "VmHWM:", 6) == 0) {
                found = sscanf(line + 6, "%" SCNu64, &kb) == 1;
                break;
            }
        }
        fclose(f);
    }
    if (!found) {
        struct rusage u;
        kb = getrusage(RUSAGE_SELF, &u) == 0 ? (uint64_t)u.ru_maxrss : 0;
    }
    return kb;
}

static struct mark mark_now(uint64_t frames) {
    struct mark m;
    m.frames = frames;
    m.allocs = alloc_count;
    m.bytes = alloc_bytes;
    m.cpu_us = cpu_time_us();
    return m;
}

static struct {
    uint64_t messages, frames, next_mark;
    struct mark start, steady[2];
    int marks;
} meter;

static void meter_start(uint64_t messages) {
    armed = 1;
    meter.messages = messages;
    meter.frames = 0;
    meter.next_mark = messages / 4 > 0 ? messages / 4 : 1;
    meter.start = mark_now(0);
    meter.marks = 0;
}

static void meter_mark(void) {
    if (meter.marks == 0) {
        uint64_t three_q = meter.messages / 4 * 3;
        meter.steady[0] = mark_now(meter.frames);
        meter.next_mark = three_q > meter.frames + 1 ? three_q : meter.frames + 1;
        meter.marks = 1;
    } else {
        meter.steady[1] = mark_now(meter.frames);
        meter.next_mark = UINT64_MAX;
        meter.marks = 2;
    }
}

/* Adds echoed frames; true once --messages frames were echoed. */
static int meter_count(uint64_t frames) {
    meter.frames += frames;
    if (meter.frames >= meter.next_mark)
        meter_mark();
    return meter.frames >= meter.messages;
}

static void meter_report(const char *server) {
    struct mark end = mark_now(meter.frames), a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
    if (meter.marks == 2) {
        a = meter.steady[0];
        b = meter.steady[1];
    }
    fprintf(stderr,
            "report server=%s frames=%" PRIu64 " allocs=%" PRIu64 " alloc_bytes=%" PRIu64
            " steady_frames=%" PRIu64 " steady_allocs=%" PRIu64 " cpu_us=%" PRIu64
            " steady_cpu_us=%" PRIu64 " peak_rss_kb=%" PRIu64 "\n",
            server, meter.frames, end.allocs - meter.start.allocs,
            end.bytes - meter.start.bytes, b.frames - a.frames, b.allocs - a.allocs,
            end.cpu_us - meter.start.cpu_us, b.cpu_us - a.cpu_us, peak_rss_kb());
}

/* ----- the server ----- */

struct options {
    struct sockaddr_storage bind;
    uint64_t max_connections, messages, max_frame;
};

/* One connection: its handle, its buffer and what the buffer holds. [0, end) are complete
 * frames (`frames` of them) being written back by `wreq`, [end, len) a partial frame. */
struct conn {
    uv_tcp_t tcp; /* first: the handle pointer is the connection pointer */
    uv_write_t wreq;
    size_t len, end;
    uint64_t frames;
    char buf[];
};

static uv_loop_t loop;
static uv_tcp_t listener;
static struct options opts;
static size_t buf_len;
static uint64_t open_conns;

static void on_close(uv_handle_t *h) {
    count_free(h);
    open_conns--;
}

static void close_conn(struct conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Counts the frames written back and keeps the partial frame behind them. */
static void written(struct conn *c) {
    if (meter_count(c->frames))
        uv_stop(&loop);
    if (c->len > c->end)
        memmove(c->buf, c->buf + c->end, c->len - c->end);
    c->len -= c->end;
    c->end = 0;
    c->frames = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct conn *c = (struct conn *)h;
    (void)suggested;
    buf->base = c->buf + c->len;
    buf->len = buf_len - c->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status) {
    struct conn *c = req->data;
    if (status < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
        close_conn(c);
        return;
    }
    written(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        close_conn(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct conn *c = (struct conn *)s;
    size_t at = 0;
    int sent;
    uv_buf_t out;
    (void)buf;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread < 0) {
        close_conn(c); /* UV_EOF or an error */
        return;
    }
    c->len += (size_t)nread;
    while (c->len - at >= HEADER) {
        const unsigned char *h = (const unsigned char *)c->buf + at;
        uint64_t n = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3];
        if (n > opts.max_frame) {
            close_conn(c);
            return;
        }
        if (c->len - at - HEADER < n)
            break;
        at += HEADER + (size_t)n;
        c->frames++;
    }
    if (at == 0)
        return;
    c->end = at;
    out = uv_buf_init(c->buf, (unsigned int)at);
    sent = uv_try_write(s, &out, 1);
    if (sent == (int)at) {
        written(c);
        return;
    }
    if (sent < 0 && sent != UV_EAGAIN) {
        close_conn(c);
        return;
    }
    /* The socket took part of it: uv_write the rest, and read no more until it is out. */
    if (sent > 0)
        out = uv_buf_init(c->buf + sent, (unsigned int)(at - (size_t)sent));
    uv_read_stop(s);
    c->wreq.data = c;
    if (uv_write(&c->wreq, s, &out, 1, on_write) != 0)
        close_conn(c);
}

static void on_connection(uv_stream_t *server, int status) {
    struct conn *c;
    if (status < 0) {
        fprintf(stderr, "accept: %s\n", uv_strerror(status));
        return;
    }
    c = count_malloc(sizeof *c + buf_len);
    if (c == NULL || uv_tcp_init(&loop, &c->tcp) != 0) {
        fprintf(stderr, "accept: out of memory\n");
        count_free(c);
        return;
    }
    open_conns++;
    c->len = c->end = 0;
    c->frames = 0;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        close_conn(c);
        return;
    }
    if (open_conns > opts.max_connections /* full: close it */
        || uv_tcp_nodelay(&c->tcp, 1) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        close_conn(c);
}

/* ----- start-up ----- */

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    unsigned long long v;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* ADDR:PORT, or [ADDR6]:PORT. */
static int parse_addr(const char *s, struct sockaddr_storage *out) {
    char host[64];
    const char *colon;
    uint64_t port;
    size_t n;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        n = (size_t)(close - s - 1);
        colon = close + 1;
        if (n >= sizeof host)
            return -1;
        memcpy(host, s + 1, n);
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        n = (size_t)(colon - s);
        if (n >= sizeof host)
            return -1;
        memcpy(host, s, n);
    }
    host[n] = '\0';
    if (parse_u64(colon + 1, &port) != 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0)
        return 0;
    return -1;
}

static int parse_args(int argc, char **argv) {
    int i;
    if (parse_addr("127.0.0.1:0", &opts.bind) != 0)
        return -1;
    opts.max_connections = 1024;
    opts.messages = UINT64_MAX;
    opts.max_frame = 1024;
    for (i = 1; i < argc; i += 2) {
        const char *name = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0)
            return -1;
        if (value == NULL) {
            fprintf(stderr, "%s needs a value\n", name);
            return -1;
        }
        if (strcmp(name, "--bind") == 0)
            bad = parse_addr(value, &opts.bind);
        else if (strcmp(name, "--max-connections") == 0)
            bad = parse_u64(value, &opts.max_connections);
        else if (strcmp(name, "--messages") == 0)
            bad = parse_u64(value, &opts.messages);
        else if (strcmp(name, "--max-frame") == 0)
            bad = parse_u64(value, &opts.max_frame);
        else {
            fprintf(stderr, "unknown flag %s\n", name);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "%s %s: not a valid value\n", name, value);
            return -1;
        }
    }
    if (opts.max_connections == 0 || opts.messages == 0 || opts.max_frame == 0) {
        fprintf(stderr, "--max-connections, --messages and --max-frame must be at least 1\n");
        return -1;
    }
    if (opts.max_frame > (uint64_t)INT32_MAX - HEADER) {
        fprintf(stderr, "--max-frame is too large\n");
        return -1;
    }
    return 0;
}

static void raise_fd_limit(void) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
            fprintf(stderr, "echo_uv: cannot raise the descriptor limit: %s\n", strerror(errno));
    }
}

/* Prints the bound address as Rust's SocketAddr does: 127.0.0.1:PORT or [::1]:PORT. */
static int print_address(void) {
    struct sockaddr_storage addr;
    int len = sizeof addr, err;
    char host[INET6_ADDRSTRLEN];
    if ((err = uv_tcp_getsockname(&listener, (struct sockaddr *)&addr, &len)) != 0)
        return err;
    if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        if ((err = uv_ip6_name(a, host, sizeof host)) != 0)
            return err;
        printf("[%s]:%u\n", host, (unsigned)ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        if ((err = uv_ip4_name(a, host, sizeof host)) != 0)
            return err;
        printf("%s:%u\n", host, (unsigned)ntohs(a->sin_port));
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    int err;
    /* Before any other libuv call, so every allocation of libuv goes through the counters. */
    if ((err = uv_replace_allocator(count_malloc, count_realloc, count_calloc, count_free)) != 0) {
        fprintf(stderr, "echo_uv: uv_replace_allocator: %s\n", uv_strerror(err));
        return 1;
    }
    if (parse_args(argc, argv) != 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    buf_len = HEADER + (size_t)opts.max_frame;
    raise_fd_limit();
    if ((err = uv_loop_init(&loop)) != 0 || (err = uv_tcp_init(&loop, &listener)) != 0 ||
        (err = uv_tcp_bind(&listener, (const struct sockaddr *)&opts.bind, 0)) != 0 ||
        (err = uv_listen((uv_stream_t *)&listener, BACKLOG, on_connection)) != 0 ||
        (err = print_address()) != 0) {
        fprintf(stderr, "echo_uv: %s\n", uv_strerror(err));
        return 1;
    }
    meter_start(opts.messages);
    uv_run(&loop, UV_RUN_DEFAULT);
    meter_report("uv");
    return 0;
}
