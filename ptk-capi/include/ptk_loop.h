/*
 * ptk_loop.h - the ptk event loop for C programs.
 *
 * One callback type receives every completion event (ACCEPT, CONNECT, READ, WRITE_DONE,
 * CLOSE, ERROR, TICK, UDP_READ, UDP_WRITE_DONE, WAKE). Loops run on background threads
 * that start when the loop is created; callbacks run on the thread of the loop that owns
 * the socket. Every function returns a ptk_err (ptk_err_string() describes it) unless it
 * cannot fail. Options structs whose zero value means "default".
 *
 * Handles (ptk_loop *, ptk_sock *) are opaque values, never addresses, checked on every call: a handle that was
 * destroyed or closed gives PTK_ERR_INVALID_PARAM or PTK_ERR_CLOSED, never undefined
 * behaviour. Every function may be called from any thread.
 *
 * Buffers (buf *) belong to exactly one side at a time:
 *   - ptk_write() and ptk_udp_send() take the buffer, whatever they return; the library
 *     frees it after PTK_EVENT_WRITE_DONE / PTK_EVENT_UDP_WRITE_DONE (or the failure).
 *   - A read event's buffer is PTK_BUF_BORROWED (valid until the callback returns; do not
 *     free it) or PTK_BUF_TRANSFER (yours: free it with ptk_buf_free() or hand it to
 *     ptk_write()), as the socket's read_ownership option chose.
 *
 * Compiles as C99 and as C++.
 */
#ifndef PTK_LOOP_H
#define PTK_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */

typedef enum {
    PTK_OK = 0,                 /* Success */
    PTK_ERR_OUT_OF_MEMORY,      /* Memory allocation failed (or a fixed capacity is full) */
    PTK_ERR_INVALID_PARAM,      /* Invalid parameter passed (NULL, bad port, stale handle) */
    PTK_ERR_NETWORK_ERROR,      /* Network operation failed */
    PTK_ERR_CLOSED,             /* Socket is closed */
    PTK_ERR_TIMEOUT,            /* Operation timed out */
    PTK_ERR_WOULD_BLOCK,        /* Operation would block */
    PTK_ERR_ADDRESS_IN_USE,     /* Address already in use */
    PTK_ERR_CONNECTION_REFUSED, /* Connection refused by remote */
    PTK_ERR_HOST_UNREACHABLE    /* Host unreachable */
} ptk_err;

/* ------------------------------------------------------------------------------------ */
/* Loop                                                                                 */

typedef struct ptk_loop ptk_loop;
typedef struct ptk_sock ptk_sock;

typedef struct {
    size_t worker_threads; /* Number of background threads (default: CPU count if 0) */
    size_t max_events;     /* Max events per loop iteration (default: 1024 if 0) */
    bool auto_start;       /* Start background threads immediately (default: true; with
                              ptk_loop_create(&loop, NULL), or when every field is zero) */
} ptk_loop_opts;

/* ------------------------------------------------------------------------------------ */
/* Buffers                                                                              */

/* A byte buffer with a length and a fixed capacity. */
typedef struct buf buf;

typedef enum {
    PTK_BUF_BORROWED, /* Don't free - library retains ownership (valid during the callback) */
    PTK_BUF_TRANSFER  /* Take ownership - you must call ptk_buf_free() (or ptk_write() it) */
} ptk_buf_ownership;

/* A new empty buffer (length 0) that can hold at least `capacity` bytes (1 to the loop's
   buffer size, 8192): taken from the pool of the loop whose callback runs on this thread,
   else of the most recently created loop (PTK_ERR_OUT_OF_MEMORY without a loop or when the
   pool is empty). */
ptk_err ptk_buf_alloc(buf **out, size_t capacity);
/* Frees a buffer you own. NULL is ignored. */
void ptk_buf_free(buf *b);
/* The buffer's bytes (`capacity` of them may be written), or NULL for a NULL buffer. */
uint8_t *ptk_buf_data(buf *b);
/* The number of bytes in use (0 for NULL). */
size_t ptk_buf_len(const buf *b);
/* The number of bytes the buffer can hold (0 for NULL). */
size_t ptk_buf_capacity(const buf *b);
/* Sets the number of bytes in use; PTK_ERR_INVALID_PARAM if len > capacity. */
ptk_err ptk_buf_set_len(buf *b, size_t len);
/* Copies `len` bytes to the end of the buffer; PTK_ERR_INVALID_PARAM if they do not fit. */
ptk_err ptk_buf_append(buf *b, const void *bytes, size_t len);

/* ------------------------------------------------------------------------------------ */
/* Events                                                                               */

typedef enum {
    PTK_EVENT_ACCEPT,        /* New client connected (server sockets; sock is the client) */
    PTK_EVENT_CONNECT,       /* Connection established (client sockets) */
    PTK_EVENT_READ,          /* Data received */
    PTK_EVENT_WRITE_DONE,    /* Write operation completed */
    PTK_EVENT_CLOSE,         /* Connection closed (the last event of a socket) */
    PTK_EVENT_ERROR,         /* Error occurred (error says which) */
    PTK_EVENT_TICK,          /* Timer tick */
    PTK_EVENT_UDP_READ,      /* Datagram received (remote_host/remote_port: the sender) */
    PTK_EVENT_UDP_WRITE_DONE,/* Datagram sent */
    PTK_EVENT_WAKE           /* ptk_sock_wake() (user_data: the pointer it was given) */
} ptk_event_type;

typedef struct {
    ptk_event_type type;        /* Type of event */
    ptk_sock *sock;             /* Socket that generated the event */
    buf *data;                  /* Data buffer (for read events, NULL otherwise) */
    ptk_buf_ownership ownership;/* Who owns the data buffer */
    const char *remote_host;    /* Remote host (for accept/connect/UDP events; valid during
                                   the callback) */
    int remote_port;            /* Remote port (for accept/connect/UDP events) */
    ptk_err error;              /* Error code (for error events) */
    void *user_data;            /* User data passed during socket creation (WAKE: the
                                   pointer given to ptk_sock_wake) */
} ptk_event;

typedef void (*ptk_callback)(const ptk_event *event);

/* ------------------------------------------------------------------------------------ */
/* Sockets                                                                              */

typedef enum {
    PTK_SOCK_TCP_SERVER, /* TCP listening socket */
    PTK_SOCK_TCP_CLIENT, /* TCP client socket (connected or accepted) */
    PTK_SOCK_UDP,        /* UDP socket */
    PTK_SOCK_TIMER       /* Timer object */
} ptk_sock_type;

typedef struct {
    const char *bind_host;   /* Host to bind to ("0.0.0.0" for all interfaces; NULL too) */
    int port;                /* Port to listen on (0: an ephemeral port) */
    int backlog;             /* Listen backlog (default: 128 if 0) */
    ptk_callback callback;   /* Event callback function */
    void *user_data;         /* User data passed to callbacks (and to accepted sockets) */

    /* Optional settings */
    bool reuse_addr;         /* Enable SO_REUSEADDR (default: true; see ptk_tcp_server_opts_default) */
    bool keep_alive;         /* Enable TCP keep-alive (default: false) */
    size_t read_buffer_size; /* Read buffer size (default: 8192 if 0) */
    ptk_buf_ownership read_ownership; /* Read buffers of accepted sockets (default: BORROWED) */
} ptk_tcp_server_opts;

typedef struct {
    const char *host;            /* Remote host: a numeric address or "localhost" (names are
                                    not resolved: PTK_ERR_INVALID_PARAM) */
    int port;                    /* Remote port to connect to */
    ptk_callback callback;       /* Event callback function */
    void *user_data;             /* User data passed to callbacks */

    /* Optional settings */
    uint32_t connect_timeout_ms; /* Connection timeout (default: 30000 if 0) */
    bool keep_alive;             /* Enable TCP keep-alive (default: false) */
    size_t read_buffer_size;     /* Read buffer size (default: 8192 if 0) */
    ptk_buf_ownership read_ownership; /* Read buffers (default: BORROWED) */
} ptk_tcp_client_opts;

typedef struct {
    const char *bind_host;   /* Host to bind to (NULL for client-only) */
    int bind_port;           /* Port to bind to (0 for client-only) */
    ptk_callback callback;   /* Event callback function */
    void *user_data;         /* User data passed to callbacks */

    /* Optional settings */
    bool broadcast;          /* Enable broadcast (default: false) */
    bool reuse_addr;         /* Enable SO_REUSEADDR (default: true; see ptk_udp_opts_default) */
    size_t read_buffer_size; /* Read buffer size (default: 8192 if 0) */
    ptk_buf_ownership read_ownership; /* Read buffers (default: BORROWED) */
} ptk_udp_opts;

typedef struct {
    uint64_t timeout_ms;     /* Timeout in milliseconds (at least 1) */
    bool repeat;             /* Whether to repeat the timer */
    ptk_callback callback;   /* Event callback function */
    void *user_data;         /* User data passed to callbacks */
} ptk_timer_opts;

typedef enum {
    PTK_SOCKOPT_KEEP_ALIVE,  /* TCP keep-alive (bool) */
    PTK_SOCKOPT_NO_DELAY,    /* TCP_NODELAY (bool) */
    PTK_SOCKOPT_REUSE_ADDR,  /* SO_REUSEADDR (bool) */
    PTK_SOCKOPT_RECV_BUFFER, /* SO_RCVBUF (int) */
    PTK_SOCKOPT_SEND_BUFFER  /* SO_SNDBUF (int) */
} ptk_sockopt;

/* ------------------------------------------------------------------------------------ */
/* Functions                                                                            */

/* Loop creation and destruction. opts may be NULL (defaults). */
ptk_err ptk_loop_create(ptk_loop **loop, const ptk_loop_opts *opts);
/* Stops and joins the threads, then delivers PTK_EVENT_CLOSE (on the calling thread) to
   every socket still open, and frees the loop. NULL and stale handles are ignored; from one
   of the loop's own callbacks it only stops the loop (destroy it from another thread).
   Buffers the program still owns stay valid. */
void ptk_loop_destroy(ptk_loop *loop);

/* Loop control. */
ptk_err ptk_loop_start(ptk_loop *loop); /* Starts the threads when auto_start was false */
/* Blocks until ptk_loop_stop(); PTK_ERR_INVALID_PARAM from the loop's own callbacks. */
ptk_err ptk_loop_wait(ptk_loop *loop);
/* PTK_ERR_TIMEOUT if the loop is still running after timeout_ms. */
ptk_err ptk_loop_wait_timeout(ptk_loop *loop, uint64_t timeout_ms);
void ptk_loop_stop(ptk_loop *loop);
bool ptk_loop_is_running(ptk_loop *loop);

/* TCP server: listens at once; PTK_EVENT_ACCEPT brings each new connection's socket. */
ptk_tcp_server_opts ptk_tcp_server_opts_default(void);
ptk_err ptk_tcp_server_start(ptk_loop *loop, ptk_sock **server, const ptk_tcp_server_opts *opts);

/* TCP client: PTK_EVENT_CONNECT on success, PTK_EVENT_ERROR then PTK_EVENT_CLOSE on failure. */
ptk_tcp_client_opts ptk_tcp_client_opts_default(void);
ptk_err ptk_tcp_connect(ptk_loop *loop, ptk_sock **client, const ptk_tcp_client_opts *opts);

/* UDP. */
ptk_udp_opts ptk_udp_opts_default(void);
ptk_err ptk_udp_create(ptk_loop *loop, ptk_sock **udp_sock, const ptk_udp_opts *opts);
/* Takes `data` (whatever the result); PTK_EVENT_UDP_WRITE_DONE when sent. */
ptk_err ptk_udp_send(ptk_sock *sock, buf *data, const char *host, int port);

/* Timers. */
ptk_err ptk_timer_start(ptk_loop *loop, ptk_sock **timer, const ptk_timer_opts *opts);
ptk_err ptk_timer_stop(ptk_sock *timer);

/* Socket operations. */
/* Takes `data` (whatever the result); PTK_EVENT_WRITE_DONE when every byte is sent. */
ptk_err ptk_write(ptk_sock *sock, buf *data);
/* Closes the socket; PTK_EVENT_CLOSE follows (on the loop thread). */
ptk_err ptk_close(ptk_sock *sock);
ptk_err ptk_sock_get_type(ptk_sock *sock, ptk_sock_type *type);
/* The user_data of the socket's later events (an accepted socket starts with its server's). */
ptk_err ptk_sock_set_user_data(ptk_sock *sock, void *user_data);
ptk_err ptk_sock_get_user_data(ptk_sock *sock, void **user_data);
/* The address as text into host (host_len bytes, NUL-terminated) and the port. */
ptk_err ptk_sock_get_local_addr(ptk_sock *sock, char *host, size_t host_len, int *port);
ptk_err ptk_sock_get_remote_addr(ptk_sock *sock, char *host, size_t host_len, int *port);

/* Advanced operations. value points at a bool or an int as the option says. */
ptk_err ptk_sock_set_option(ptk_sock *sock, ptk_sockopt opt, const void *value, size_t value_len);
ptk_err ptk_sock_get_option(ptk_sock *sock, ptk_sockopt opt, void *value, size_t *value_len);
/* PTK_EVENT_WAKE on the socket's loop thread, with user_data. */
ptk_err ptk_sock_wake(ptk_sock *sock, void *user_data);
/* Runs callback(user_data) on a thread of the loop (not if the loop is destroyed first). */
ptk_err ptk_loop_post(ptk_loop *loop, void (*callback)(void *user_data), void *user_data);

/* Utilities (thread-safe; the strings are static). */
const char *ptk_err_string(ptk_err err);
const char *ptk_event_string(ptk_event_type type);
uint64_t ptk_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* PTK_LOOP_H */
