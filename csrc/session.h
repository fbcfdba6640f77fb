/* session: one client's protocol state, whatever the protocol, and the loop that feeds it bytes.
 * Transports, tests and fuzzers feed sessions; protocols.h starts them; protocols implement steps. */
#ifndef SC_SESSION_H
#define SC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdalign.h>
#endif

#include "buf.h"
#include "engine.h"
#include "item.h"

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
        struct session_value *value_slot; /* session.h's proto.value while s->receiving */
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
    struct session_value *value_slot; /* session.h's proto.value while s->receiving */
    bool discarding;           /* the rest of an overlong line is thrown away as it arrives */
    bool guard_guessed;        /* the seed-port guard judged a set by the bytes that had arrived
                                * after it, which another cut of the same stream could change
                                * (test/fuzz/fuzz_protocol.c excuses such runs) */
} simple_session_t;

typedef struct binary_session {
    struct session_value *value_slot; /* session.h's proto.value while s->receiving */
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
    bool receiving;            /* a storage command's value is arriving into proto.value's item */
    int32_t fd;                /* the socket's descriptor, or -1: memcached's "cfd" and "<fd" in logs */
    union {
        /* While receiving, whatever the protocol: the value arriving. Each protocol's state leaves
         * its first member (value_slot) to it, so the value costs the session no byte. */
        struct session_value *value;
        text_session_t text;
        binary_session_t binary;
        simple_session_t simple;
    } proto;                   /* the state of the protocol spoken; zeroed at start */
} session_t;

/* A fresh open session on e that speaks through step. Its counters go to e's own block and its
 * output is unbounded until the caller sets s->stats and s->out_high_water. */
void session_init(session_t *s, engine_t *e, session_step_t step);

/* ---- a value read straight into its item ----
 * Once a storage command's line (or binary header) is parsed, its protocol reserves the item
 * (cache_reserve) and hands it to the session: the bytes that follow are copied (session_feed) or
 * read (session_value_room/landed) into the item, and the trailer after the value is kept; then
 * the protocol's commit runs. The line is not parsed again and the input buffer does not grow. */

struct session_value;

/* Runs once the value and its trailer are in: commits the item (cache_write with w->reserved) or
 * gives it up (cache_release), and appends the reply. Owns v->item from then on. */
typedef void (*session_commit_t)(struct session *s, struct session_value *v, buf_t *out);


/* What the session keeps of a value arriving, and a protocol's commit reads. (C only: the C++
 * binding includes this header for session_t alone.) */
#ifndef __cplusplus
typedef struct session_value {
    item_t *item;             /* reserved, unlinked, held by the session */
    uint32_t got;             /* value bytes in the item so far */
    uint8_t trailer_len;      /* bytes that must follow the value: 2 for "\r\n", 0 for binary */
    uint8_t trailer_got;
    char trailer[2];          /* those bytes, as they came */
    session_commit_t commit;
    _Alignas(max_align_t) unsigned char cmd[]; /* the protocol's parsed command (cmd_size bytes) */
} session_value_t;
#endif

/* Starts receiving it->nvalue bytes of value and then trailer_len bytes into the reserved item it,
 * whose reference passes to the session. Returns the command area of cmd_size bytes for the
 * protocol to fill, for its commit to read; NULL when out of memory (it is released then). One
 * small allocation per value that did not arrive with its line: ~40 bytes plus cmd_size. */
void *session_value_begin(session_t *s, item_t *it, size_t trailer_len, session_commit_t commit, size_t cmd_size);

/* Where the next value bytes may be read straight into, at most *n of them (what is due); NULL
 * when no value is arriving or only its trailer is still due. */
char *session_value_room(session_t *s, size_t *n);

/* n bytes (at most what session_value_room offered) were written there; a value complete without a
 * trailer is committed now, its reply appended to out. */
void session_value_landed(session_t *s, size_t n, buf_t *out);

/* Gives up a value still arriving (the client went away): its item is freed, the old value stays.
 * Safe when none is; protocol_end() calls it. */
void session_value_drop(session_t *s);

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
