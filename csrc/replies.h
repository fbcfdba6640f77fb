/* replies: every reply line of memcached's text protocol (classic, meta, auth) and of the seed
 * protocol, named once, without "\r\n", worded byte for byte as memcached 1.6.18 words them. */
#ifndef SC_REPLIES_H
#define SC_REPLIES_H

/* Outcomes of the classic text commands (the seed protocol answers with the same words). */
#define TEXT_STORED "STORED"
#define TEXT_NOT_STORED "NOT_STORED"
#define TEXT_EXISTS "EXISTS"
#define TEXT_NOT_FOUND "NOT_FOUND"
#define TEXT_DELETED "DELETED"
#define TEXT_TOUCHED "TOUCHED"
#define TEXT_OK "OK"
#define TEXT_RESET "RESET"
#define TEXT_END "END"
#define TEXT_META_NOOP "MN"

/* An unknown command, or one this server does not offer. */
#define TEXT_ERROR "ERROR"
#define TEXT_SHUTDOWN_DISABLED "ERROR: shutdown not enabled"
#define TEXT_SHUTDOWN_BAD_MODE "CLIENT_ERROR invalid shutdown mode"
#define TEXT_LRU_PCTS "ERROR hot and warm pcts must not exceed 80"
#define TEXT_LRU_FACTORS "ERROR hot/warm age factors must be greater than 0"

/* The client's mistakes: the session goes on. */
#define TEXT_BAD_FORMAT "CLIENT_ERROR bad command line format"
#define TEXT_BAD_DELETE_FORMAT "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define TEXT_BAD_TERMINATION "CLIENT_ERROR bad command line termination"
#define TEXT_BAD_DATA_CHUNK "CLIENT_ERROR bad data chunk"
#define TEXT_BAD_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define TEXT_FLUSH_DISABLED "CLIENT_ERROR flush_all not allowed"
#define TEXT_BAD_DELTA "CLIENT_ERROR invalid numeric delta argument"
#define TEXT_NON_NUMERIC "CLIENT_ERROR cannot increment or decrement non-numeric value"
#define TEXT_STATS_DETAIL_USAGE "CLIENT_ERROR usage: stats detail on|off|dump"
#define TEXT_AUTH_BAD_TOKEN "CLIENT_ERROR bad authentication token format"
#define TEXT_AUTH_FAILURE "CLIENT_ERROR authentication failure"
#define TEXT_UNAUTHENTICATED "CLIENT_ERROR unauthenticated"

/* The meta commands' own wording for the client's mistakes. */
#define META_BAD_TOKEN "CLIENT_ERROR bad token in command line format"
#define META_BAD_KEY "CLIENT_ERROR error decoding key"
#define META_BAD_FLAG "CLIENT_ERROR invalid flag"
#define META_DUPLICATE_FLAG "CLIENT_ERROR duplicate flag"
#define META_BAD_OR_DUPLICATE_FLAG "CLIENT_ERROR invalid or duplicate flag"
#define META_BAD_M_LENGTH "CLIENT_ERROR incorrect length for M token"
#define META_BAD_MS_MODE "CLIENT_ERROR invalid mode for ms M token"
#define META_BAD_MA_MODE "CLIENT_ERROR invalid mode for ma M token"
#define META_BAD_DELTA "CLIENT_ERROR invalid numeric delta value"
#define META_BAD_INITIAL "CLIENT_ERROR invalid numeric initial value"
#define META_OPAQUE_TOO_LONG "CLIENT_ERROR opaque token too long"
/* memcached words the same limit two ways: "are" in mg, not in ms, md and ma. */
#define META_FLAGS_ARE_TOO_LONG "CLIENT_ERROR options flags are too long"
#define META_FLAGS_TOO_LONG "CLIENT_ERROR options flags too long"

/* Operator commands: stats cachedump, lru_crawler, slabs, cache_memlimit. */
#define TEXT_BAD_COMMAND_LINE "CLIENT_ERROR bad command line"
#define TEXT_ILLEGAL_SLAB_ID "CLIENT_ERROR Illegal slab id"
#define TEXT_BAD_CLASS "BADCLASS invalid class id"
#define TEXT_CRAWLER_DISABLED "CLIENT_ERROR lru crawler disabled"
#define TEXT_CRAWLER_RUNNING "ERROR failed to start lru crawler thread"
#define TEXT_CRAWLER_SLEEP_RANGE "CLIENT_ERROR sleep must be one second or less"
#define TEXT_SLABS_BAD_CLASS "BADCLASS invalid src or dst class id"
#define TEXT_SLABS_NO_SPARE "NOSPARE source class has no spare pages"
#define TEXT_SLABS_SAME "SAME src and dst class are identical"
#define TEXT_MEMLIMIT_TOO_SMALL "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"
#define TEXT_MEMLIMIT_NOT_BYTES "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"
#define TEXT_MEMLIMIT_FAILED "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust"

/* The server could not do it: the session goes on. */
#define TEXT_TOO_LARGE "SERVER_ERROR object too large for cache"
#define TEXT_NO_MEMORY_STORING "SERVER_ERROR out of memory storing object"
#define TEXT_NO_MEMORY "SERVER_ERROR out of memory"
#define META_NO_MEMORY_NEW_ITEM "SERVER_ERROR Out of memory allocating new item"
/* Sent, whatever the port's protocol, to a connection refused at the connection limit. */
#define TEXT_TOO_MANY_CONNECTIONS "ERROR Too many open connections"

/* The seed protocol's own: a line past its limit, after which the connection closes. */
#define SIMPLE_LINE_TOO_LONG "CLIENT_ERROR line too long"

#endif
