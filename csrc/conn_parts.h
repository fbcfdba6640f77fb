/* conn_parts: what conn.c, conn_read.c and conn_write.c share of a connection's machinery (the
 * reads and sends call back into its life, and it starts and stops them); the server uses conn.h. */
#ifndef SC_CONN_PARTS_H
#define SC_CONN_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"

/* Pointers only: conn.h includes nothing of this, so conn.c, which defines half of it, can
 * include both without a cycle between the two headers' modules. */
struct conn;
struct conn_io;

/* conn.c: the connection's life. */
void conn_close_cb(uv_handle_t *h);                    /* the handle closed (or a ring request ended after) */
void conn_log_failure(struct conn *c, bool writing, int err);
struct conn_io *conn_io_get(struct conn *c);           /* its own buffers, on first need; NULL: no memory */
int conn_input_reserve(struct conn *c, size_t n);      /* room for n more input bytes; 0 or -1 */
size_t conn_execute(struct conn *c, const char *data, size_t len); /* runs commands, sends replies */
size_t conn_held_output(const struct conn *c);         /* output that holds back reading */
void conn_process(struct conn *c);                     /* executes what is buffered, sends, reads on */
void conn_drained(struct conn *c);                     /* every reply is out: a closing one sends FIN */

/* conn_read.c: where bytes come in. 0 or a UV error. */
int conn_read_start(struct conn *c);
void conn_read_stop(struct conn *c);

/* conn_write.c: how replies go out. */
void conn_send_scratch(struct conn *c, buf_t *scratch);
buf_t *conn_reply_buffer(struct conn *c);
void conn_flush(struct conn *c);

#endif
