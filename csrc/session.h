/* session: one client's protocol state, whatever the protocol, and the loop that feeds it bytes.
 * Transports, tests and fuzzers feed sessions; protocols.h starts them; protocols implement steps. */
#ifndef SC_SESSION_H
#define SC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"

struct session;

/* A protocol's unit of work: executes the command at in[0..len) (len > 0), appends its reply to
 * out, and returns the bytes it took, or 0 when it needs more input (or ended the session), or 0
 * with s->producing set when a long reply goes on (call it again once out has room). */
typedef size_t (*session_step_t)(struct session *s, const char *in, size_t len, buf_t *out);

typedef enum session_state {
    SESSION_OPEN = 0,
    SESSION_QUIT,    /* the client asked to close: send what is queued, then close */
    SESSION_BROKEN,  /* the stream cannot be resynchronised: send what is queued, then close */
    SESSION_WATCH,   /* "watch": executes nothing more; its transport sends the watcher's lines */
} session_state_t;

/* Where a memcached text session is between commands. */
typedef enum text_state {
    TEXT_LINE = 0,  /* expecting a command line (a storage command's data comes with it) */
    TEXT_SWALLOW,   /* discarding the data block of a refused storage command */
    TEXT_GET_MORE,  /* the input continues with more keys of a get paused at the output mark */
    TEXT_DUMPING,   /* sending a key listing; its command line stays unconsumed until it ends */
    TEXT_GET_STREAM,  /* a get line too long to wait for: its keys are served as they arrive */
    TEXT_GET_DISCARD, /* the rest of such a line after a bad key (or a NUL) is dropped as it arrives */
    TEXT_GET_SEND,    /* such a line has ended; its held hits are being sent, then END */
} text_state_t;

struct dump;
struct text_getline;

typedef struct text_session {
    union {
        struct dump *dump;     /* TEXT_DUMPING: the listing (dump.h), freed by protocol_end() */
        struct logger_watcher *watcher; /* SESSION_WATCH: its log stream, freed by protocol_end() */
        uint32_t get_exptime;  /* TEXT_GET_MORE: the paused get's new exptime (gat) */
        struct text_getline *getline; /* TEXT_GET_STREAM/DISCARD/SEND: the long line's state
                                       * (proto_text_getline.c), freed by protocol_end() */
    };
    uint32_t swallow_left;     /* TEXT_SWALLOW: bytes still to discard; TEXT_DUMPING: the length
                                * of the listing's command line */
    uint8_t state;             /* text_state_t */
    bool get_with_cas : 1;     /* TEXT_GET_MORE: the paused get is a gets/gats */
    bool get_touch : 1;        /* TEXT_GET_MORE: the paused get is a gat/gats */
    bool authenticated : 1;    /* false until the auth "set" succeeds (engine->auth) */
    bool line_logged : 1;      /* -vv has printed the command line waiting for its data block */
} text_session_t;

typedef struct simple_session {
    bool discarding;           /* the rest of an overlong line is thrown away as it arrives */
} simple_session_t;

typedef struct binary_session {
    uint32_t swallow_left;     /* bytes of a refused command's body still to discard */
    bool authenticated : 1;    /* SASL (engine->sasl): the last auth or step succeeded */
    bool sasl_started : 1;     /* SASL: an auth asked for the PLAIN message, which a step brings */
} binary_session_t;

/* One client's protocol state. Every open connection holds one, so it is packed: 56 bytes. The
 * 32-bit sizes are enough because every length they hold is bounded far below 4 GiB (a line by the
 * protocol's line limit, a data block by the 32-bit length memcached parses). */
typedef struct session {
    engine_t *engine;
    engine_stats_t *stats;     /* where this session's counters go */
    session_step_t step;       /* the protocol spoken; a step may replace it (memcached's port
                                * picks text or binary by the first byte) */
    uint32_t scanned;          /* line protocols: leading pending bytes known to hold no line end */
    uint32_t out_high_water;   /* feed stops executing commands once out holds this many bytes,
                                * counting those it refers to (bufref.h) */
    uint8_t state;             /* session_state_t */
    bool producing;            /* a step has more output to give for input it has not consumed
                                * (a listing): feed on even without new input */
    uint8_t command;           /* latency_command_t of the command being run, set by the protocol
                                * as it dispatches: the histogram its time goes to */
    int32_t fd;                /* the socket's descriptor, or -1: memcached's "cfd" and "<fd" in logs */
    union {
        text_session_t text;
        binary_session_t binary;
        simple_session_t simple;
    } proto;                   /* the state of the protocol spoken; zeroed at start */
} session_t;

/* A fresh open session on e that speaks through step. Its counters go to e's own block and its
 * output is unbounded until the caller sets s->stats and s->out_high_water. */
void session_init(session_t *s, engine_t *e, session_step_t step);

/* Executes every complete command in in[0..len), appending the replies to out, and returns how many
 * bytes it consumed. The caller keeps the rest and passes it again, with more bytes appended, on
 * the next call. It stops early once out owes s->out_high_water bytes (buf_pending: the values
 * it refers to count, see value_out.h), so that one read of
 * pipelined gets cannot queue unbounded output; while s->producing, the caller calls again once
 * out has drained, even with no new input. Once s->state is not SESSION_OPEN the session
 * consumes nothing more. It reads no clock: whoever runs sessions keeps the engine's clock ticking
 * (engine_tick), as a group's timer does. */
size_t session_feed(session_t *s, const char *in, size_t len, buf_t *out);

#endif
