/* loadgen.c - single-threaded epoll load generator for simplecached and memcached.
 * Keeps N pipelined connections busy with a get/set mix and reports ops/s, latency percentiles, errors and hit ratio,
 * and, given the server's pid, the server's CPU time per op over the measured window. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define MAX_EVENTS 256
#define KEY_MAX 32
#define MULTIGET_MAX 1000         /* keeps a request line (about 15 bytes a key) well under servers' line limits */
#define PRELOAD_DEPTH 64          /* sets in flight per connection while preloading */
#define PRELOAD_TIMEOUT_NS (60ull * 1000000000ull)
#define EPOLL_TIMEOUT_MS 10       /* wake up regularly so a stalled server cannot stall the clock */

/* ---------------------------------------------------------------- options */

enum protocol { PROTO_SIMPLE, PROTO_TEXT, PROTO_BINARY };

struct options {
    const char *host;
    const char *port;
    const char *socket;     /* a Unix domain socket instead of host and port */
    int conns;
    int pipeline;
    double duration_s;
    double warmup_s;
    double set_ratio;
    int value_size;
    int keys;
    int multiget;           /* keys per get request; the seed protocol has no multi-key gets */
    long server_pid;        /* whose CPU time to sample at the window's edges; 0: none */
    enum protocol protocol;
    bool json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loadgen --port N [options]\n"
            "  --host ADDR        server address (127.0.0.1)\n"
            "  --port N           server port (required, unless --socket)\n"
            "  --socket PATH      a Unix domain socket instead of --host and --port\n"
            "  --conns N          connections (50)\n"
            "  --pipeline N       requests in flight per connection (1)\n"
            "  --duration SEC     measured seconds (5)\n"
            "  --warmup SEC       unmeasured seconds before measuring (1)\n"
            "  --set-ratio R      fraction of requests that are sets (0.1)\n"
            "  --value-size N     value bytes (32)\n"
            "  --keys N           key space, keys are key:0 .. key:N-1 (10000)\n"
            "  --protocol P       simple | text | binary (simple)\n"
            "  --multiget N       keys per get, distinct and random; text or binary protocol (1)\n"
            "                     (binary: N-1 GETKQ then a GETK)\n"
            "  --server-pid PID   report that process's CPU time (all its threads) per measured op\n"
            "  --json             print one JSON line instead of text\n");
}

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "loadgen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

static long parse_long(const char *name, const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min || v > max)
        die_usage("bad value for --%s", name);
    return v;
}

static double parse_double(const char *name, const char *text, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || end == text || !(v >= min && v <= max))
        die_usage("bad value for --%s", name);
    return v;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {
        .host = "127.0.0.1", .port = NULL, .conns = 50, .pipeline = 1,
        .duration_s = 5, .warmup_s = 1, .set_ratio = 0.1, .value_size = 32,
        .keys = 10000, .multiget = 1, .protocol = PROTO_SIMPLE, .json = false,
    };
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},     {"port", required_argument, 0, 'p'},
        {"conns", required_argument, 0, 'c'},    {"pipeline", required_argument, 0, 'P'},
        {"duration", required_argument, 0, 'd'}, {"warmup", required_argument, 0, 'w'},
        {"set-ratio", required_argument, 0, 's'}, {"value-size", required_argument, 0, 'v'},
        {"keys", required_argument, 0, 'k'},     {"protocol", required_argument, 0, 'r'},
        {"multiget", required_argument, 0, 'm'}, {"json", no_argument, 0, 'j'},
        {"server-pid", required_argument, 0, 'S'}, {"socket", required_argument, 0, 'u'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': o.host = optarg; break;
        case 'p': parse_long("port", optarg, 1, 65535); o.port = optarg; break;
        case 'c': o.conns = (int)parse_long("conns", optarg, 1, 100000); break;
        case 'P': o.pipeline = (int)parse_long("pipeline", optarg, 1, 100000); break;
        case 'd': o.duration_s = parse_double("duration", optarg, 0.001, 86400); break;
        case 'w': o.warmup_s = parse_double("warmup", optarg, 0, 86400); break;
        case 's': o.set_ratio = parse_double("set-ratio", optarg, 0, 1); break;
        case 'v': o.value_size = (int)parse_long("value-size", optarg, 1, 64 << 20); break;
        case 'k': o.keys = (int)parse_long("keys", optarg, 1, 1000000000); break;
        case 'm': o.multiget = (int)parse_long("multiget", optarg, 1, MULTIGET_MAX); break;
        case 'r':
            if (strcmp(optarg, "simple") == 0) o.protocol = PROTO_SIMPLE;
            else if (strcmp(optarg, "text") == 0) o.protocol = PROTO_TEXT;
            else if (strcmp(optarg, "binary") == 0) o.protocol = PROTO_BINARY;
            else die_usage("unknown protocol '%s'", optarg);
            break;
        case 'j': o.json = true; break;
        case 'S': o.server_pid = parse_long("server-pid", optarg, 1, 1L << 30); break;
        /* Reported as "unix:PATH", memcached's name for such a socket. */
        case 'u': o.socket = optarg; o.host = "unix"; o.port = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) die_usage("unexpected argument '%s'", argv[optind]);
    if (!o.port) die_usage("%s", "--port or --socket is required");
    if (o.multiget > 1 && o.protocol == PROTO_SIMPLE)
        die_usage("%s", "--multiget needs --protocol text or binary (the simple protocol gets one key at a time)");
    if (o.multiget > o.keys)
        die_usage("%s", "--multiget cannot exceed --keys (the keys of one get are distinct)");
    return o;
}

/* ---------------------------------------------------------------- time, random */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t seconds_to_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

/* xorshift64*: cheap enough that choosing keys never shows up next to syscalls. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double random_unit(uint64_t *state)
{
    return (double)(next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---------------------------------------------------------------- server CPU */

/* The CPU time a process has run, all its threads, in ns: the sum of each task's schedstat
 * run time (exact, unlike the tick-sampled utime/stime of /proc/PID/stat). A thread that exits
 * inside the window takes its time with it; servers keep theirs. 0 when unreadable. */
static uint64_t process_cpu_ns(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    uint64_t total = 0;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        char stat_path[96];
        snprintf(stat_path, sizeof stat_path, "/proc/%ld/task/%.20s/schedstat", pid, d->d_name);
        FILE *f = fopen(stat_path, "r");
        unsigned long long run_ns;
        if (f && fscanf(f, "%llu", &run_ns) == 1)
            total += run_ns;
        if (f)
            fclose(f);
    }
    closedir(dir);
    return total;
}

/* The server's CPU time over the measured window, sampled at its edges (the loop wakes at
 * least every EPOLL_TIMEOUT_MS, so an edge is late by at most that plus one event batch). */
struct cpu_window {
    bool started, ended;
    uint64_t wall_start, wall_end, cpu_start, cpu_end;
};

static void cpu_window_sample(struct cpu_window *w, long pid, uint64_t now, uint64_t start, uint64_t end)
{
    if (pid == 0 || w->ended || now < start)
        return;
    uint64_t cpu = process_cpu_ns(pid);
    if (!w->started) {
        w->started = true;
        w->wall_start = now;
        w->cpu_start = cpu;
    } else if (now >= end) {
        w->ended = true;
        w->wall_end = now;
        w->cpu_end = cpu;
    }
}

/* ---------------------------------------------------------------- latency histogram */

/* Log-linear buckets (HdrHistogram style): exact below 128 ns, then 64 buckets per power
 * of two, i.e. under 1.6% error, in a fixed 30 KB no matter how many samples. */
#define HIST_SUB_BITS 7
#define HIST_LINEAR (1u << HIST_SUB_BITS)
#define HIST_HALF (HIST_LINEAR / 2)
#define HIST_BUCKETS (HIST_LINEAR + (64 - HIST_SUB_BITS) * HIST_HALF)

struct histogram {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - (HIST_SUB_BITS - 1);
    return HIST_LINEAR + (unsigned)(shift - 1) * HIST_HALF + (unsigned)((v >> shift) - HIST_HALF);
}

/* Middle of the bucket, so reported values are unbiased within the bucket width. */
static uint64_t hist_bucket_value(unsigned idx)
{
    if (idx < HIST_LINEAR)
        return idx;
    unsigned r = idx - HIST_LINEAR;
    unsigned shift = r / HIST_HALF + 1;
    uint64_t mantissa = r % HIST_HALF + HIST_HALF;
    return (mantissa << shift) + ((1ull << shift) >> 1);
}

static void hist_add(struct histogram *h, uint64_t v)
{
    h->buckets[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_percentile(const struct histogram *h, double p)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank)
            return hist_bucket_value(i) < h->max ? hist_bucket_value(i) : h->max;
    }
    return h->max;
}

/* ---------------------------------------------------------------- byte buffers */

struct buffer {
    char *data;
    size_t start, end, cap;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(1);
    }
    return q;
}

/* Makes at least `need` bytes writable at data+end, compacting before growing. */
static void buffer_reserve(struct buffer *b, size_t need)
{
    if (b->cap - b->end >= need)
        return;
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    if (b->cap - b->end < need) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->end < need)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
}

static void buffer_consume(struct buffer *b, size_t n)
{
    b->start += n;
    if (b->start == b->end)
        b->start = b->end = 0;
}

/* ---------------------------------------------------------------- state */

struct request {
    uint64_t sent_ns;
    uint32_t *keys;         /* this slot's share of conn.key_store: multiget ids, fixed per slot */
    unsigned nkeys;         /* 1 for sets, --multiget for gets */
    bool is_set;
};

struct conn {
    int fd;
    struct buffer in, out;
    struct request *queue;  /* ring of requests awaiting a reply, oldest at queue_head */
    uint32_t *key_store;    /* queue_cap * multiget key ids backing queue[i].keys */
    unsigned queue_cap, queue_head, inflight;
    uint32_t preload_next;  /* next key this connection preloads; keys are striped across conns */
    bool preload_done;
    bool want_write;        /* EPOLLOUT registered because the socket buffer was full */
    uint64_t rng;
};

enum phase { PHASE_PRELOAD, PHASE_TRAFFIC };

/* A multi-key get is one op (ops, gets, latency) but N keys (get_keys, hits). */
struct stats {
    uint64_t ops, gets, get_keys, sets, hits, errors;
    struct histogram latency;
};

struct bench {
    struct options opt;
    struct conn *conns;
    int epfd;
    enum phase phase;
    int preload_pending;    /* connections still preloading */
    uint64_t preload_deadline, measure_start, measure_end;
    char *value;
    char text_set_suffix[48]; /* " 0 0 <n>\r\n" for text-protocol sets */
    size_t text_set_suffix_len;
    bool failed;
    struct stats stats;
    struct cpu_window server_cpu;
};

static void fail(struct bench *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    b->failed = true;
}

/* ---------------------------------------------------------------- requests */

static size_t format_key(char *dst, uint32_t n)
{
    char digits[10];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(dst, "key:", 4);
    for (size_t i = 0; i < d; i++)
        dst[4 + i] = digits[d - 1 - i];
    return 4 + d;
}

static char *put(char *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

/* ---------------------------------------------------------------- binary protocol */

#define BIN_HEADER 24
#define BIN_REQUEST 0x80
#define BIN_RESPONSE 0x81
#define BIN_GET 0x00
#define BIN_SET 0x01
#define BIN_NOOP 0x0a
#define BIN_GETKQ 0x0d
#define BIN_SET_EXTRAS 8   /* flags, exptime */
#define BIN_GET_EXTRAS 4   /* flags */

static void put_be16(char *p, unsigned v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

static uint32_t get_be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static unsigned get_be16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (unsigned)u[0] << 8 | u[1];
}

/* A request header with zero opaque and cas; returns where the body goes. */
static char *put_bin_header(char *p, unsigned opcode, size_t nkey, unsigned nextras, size_t body)
{
    memset(p, 0, BIN_HEADER);
    p[0] = (char)BIN_REQUEST;
    p[1] = (char)opcode;
    put_be16(p + 2, (unsigned)nkey);
    p[4] = (char)nextras;
    put_be32(p + 8, (uint32_t)body);
    return p + BIN_HEADER;
}

/* One GET, or for a multi-get one GETKQ per key (only hits answer) and a NOOP that ends the reply. */
static void encode_bin_get(struct buffer *out, const struct request *req)
{
    buffer_reserve(out, (req->nkeys + 1) * (BIN_HEADER + KEY_MAX));
    char *p = out->data + out->end;
    unsigned opcode = req->nkeys > 1 ? BIN_GETKQ : BIN_GET;
    for (unsigned i = 0; i < req->nkeys; i++) {
        char key[KEY_MAX];
        size_t nkey = format_key(key, req->keys[i]);
        p = put(put_bin_header(p, opcode, nkey, 0, nkey), key, nkey);
    }
    if (req->nkeys > 1)
        p = put_bin_header(p, BIN_NOOP, 0, 0, 0);
    out->end = (size_t)(p - out->data);
}

static void encode_bin_set(const struct bench *b, struct buffer *out, const struct request *req)
{
    size_t vlen = (size_t)b->opt.value_size;
    buffer_reserve(out, BIN_HEADER + BIN_SET_EXTRAS + KEY_MAX + vlen);
    char key[KEY_MAX];
    size_t nkey = format_key(key, req->keys[0]);
    char *p = put_bin_header(out->data + out->end, BIN_SET, nkey, BIN_SET_EXTRAS, BIN_SET_EXTRAS + nkey + vlen);
    memset(p, 0, BIN_SET_EXTRAS);
    p = put(put(p + BIN_SET_EXTRAS, key, nkey), b->value, vlen);
    out->end = (size_t)(p - out->data);
}

/* ---------------------------------------------------------------- text and seed protocols */

/* "get k1 k2 ... kN\r\n" */
static void encode_get(struct buffer *out, const struct request *req)
{
    buffer_reserve(out, 3 + req->nkeys * (1 + KEY_MAX) + 2);
    char *p = put(out->data + out->end, "get", 3);
    for (unsigned i = 0; i < req->nkeys; i++) {
        *p++ = ' ';
        p += format_key(p, req->keys[i]);
    }
    p = put(p, "\r\n", 2);
    out->end = (size_t)(p - out->data);
}

/* simple: "set <key> <value>\r\n"; text: "set <key> 0 0 <bytes>\r\n<value>\r\n" */
static void encode_set(const struct bench *b, struct buffer *out, const struct request *req)
{
    if (b->opt.protocol == PROTO_BINARY) {
        encode_bin_set(b, out, req);
        return;
    }
    size_t vlen = (size_t)b->opt.value_size;
    buffer_reserve(out, KEY_MAX + vlen + 64);
    char *p = put(out->data + out->end, "set ", 4);
    p += format_key(p, req->keys[0]);
    if (b->opt.protocol == PROTO_TEXT)
        p = put(p, b->text_set_suffix, b->text_set_suffix_len);
    else
        p = put(p, " ", 1);
    p = put(p, b->value, vlen);
    p = put(p, "\r\n", 2);
    out->end = (size_t)(p - out->data);
}

static struct request *queue_slot(struct conn *c, unsigned offset)
{
    return &c->queue[(c->queue_head + offset) % c->queue_cap];
}

static void enqueue_set(struct bench *b, struct conn *c, uint32_t key, uint64_t now)
{
    struct request *req = queue_slot(c, c->inflight++);
    req->sent_ns = now;
    req->is_set = true;
    req->nkeys = 1;
    req->keys[0] = key;
    encode_set(b, &c->out, req);
}

static bool contains_key(const uint32_t *keys, unsigned n, uint32_t key)
{
    for (unsigned i = 0; i < n; i++)
        if (keys[i] == key)
            return true;
    return false;
}

/* Floyd's sampling: exactly n draws for n distinct keys, even when n is close to the key
 * space, where retrying on duplicates would take ever longer. */
static void pick_distinct_keys(uint64_t *rng, uint32_t key_space, uint32_t *keys, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t j = key_space - n + i;
        uint32_t t = (uint32_t)(next_random(rng) % ((uint64_t)j + 1));
        keys[i] = contains_key(keys, i, t) ? j : t;
    }
}

static void enqueue_get(struct bench *b, struct conn *c, uint64_t now)
{
    struct request *req = queue_slot(c, c->inflight++);
    req->sent_ns = now;
    req->is_set = false;
    req->nkeys = (unsigned)b->opt.multiget;
    pick_distinct_keys(&c->rng, (uint32_t)b->opt.keys, req->keys, req->nkeys);
    if (b->opt.protocol == PROTO_BINARY)
        encode_bin_get(&c->out, req);
    else
        encode_get(&c->out, req);
}

/* ---------------------------------------------------------------- reply parsing */

/* A reply is parsed whole or not at all: when only part of it has arrived, it is parsed
 * again from its start after the next read. That needs no state across reads and stays
 * cheap, because values are skipped by their announced length, never scanned. */
enum reply { REPLY_INCOMPLETE, REPLY_OK, REPLY_ERROR };

struct parsed {
    size_t consumed; /* bytes the reply took; meaningful unless REPLY_INCOMPLETE */
    unsigned hits;   /* keys the reply carried a value for */
};

struct line {
    const char *text;
    size_t len;   /* without the line terminator */
    size_t total; /* including the line terminator */
};

static bool next_line(const char *p, size_t avail, struct line *ln)
{
    const char *nl = memchr(p, '\n', avail);
    if (!nl)
        return false;
    ln->text = p;
    ln->total = (size_t)(nl - p) + 1;
    ln->len = ln->total - 1;
    if (ln->len > 0 && p[ln->len - 1] == '\r')
        ln->len--;
    return true;
}

static bool line_is(const struct line *ln, const char *word)
{
    size_t n = strlen(word);
    return ln->len == n && memcmp(ln->text, word, n) == 0;
}

static bool line_starts_with(const struct line *ln, const char *prefix)
{
    size_t n = strlen(prefix);
    return ln->len >= n && memcmp(ln->text, prefix, n) == 0;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* If `text` starts with the key `key_id` followed by a space, returns the bytes after the space. */
static const char *skip_expected_key(const char *text, const char *end, uint32_t key_id)
{
    char key[KEY_MAX];
    size_t klen = format_key(key, key_id);
    if ((size_t)(end - text) <= klen || memcmp(text, key, klen) != 0 || text[klen] != ' ')
        return NULL;
    return text + klen + 1;
}

/* Servers answer a multi-key get in request order and leave misses out, so each VALUE
 * must name a requested key that comes after the previous VALUE's; this also rejects
 * duplicates and keys nobody asked for. */
static const char *skip_requested_key(const struct request *req, unsigned *next_key,
                                      const char *text, const char *end)
{
    for (unsigned k = *next_key; k < req->nkeys; k++) {
        const char *rest = skip_expected_key(text, end, req->keys[k]);
        if (rest) {
            *next_key = k + 1;
            return rest;
        }
    }
    return NULL;
}

/* Reads "<flags> <bytes>[ <cas>]", the part of a text VALUE line after the key. */
static bool parse_flags_and_bytes(const char *s, const char *end, size_t *bytes)
{
    if (s == end || !is_digit(*s))
        return false;
    while (s < end && is_digit(*s))
        s++;
    if (s == end || *s != ' ' || s + 1 == end || !is_digit(s[1]))
        return false;
    size_t n = 0;
    for (s++; s < end && is_digit(*s); s++) {
        n = n * 10 + (size_t)(*s - '0');
        if (n > ((size_t)1 << 40))   /* nonsense; also keeps offsets computed from it from overflowing */
            return false;
    }
    *bytes = n;
    return s == end || *s == ' ';
}

static bool parse_text_value_line(const struct request *req, const struct line *ln,
                                  unsigned *next_key, size_t *bytes)
{
    if (!line_starts_with(ln, "VALUE "))
        return false;
    const char *end = ln->text + ln->len;
    const char *rest = skip_requested_key(req, next_key, ln->text + 6, end);
    return rest && parse_flags_and_bytes(rest, end, bytes);
}

/* "STORED\r\n" */
static enum reply parse_set_reply(const char *p, size_t avail, struct parsed *out)
{
    struct line ln;
    if (!next_line(p, avail, &ln))
        return REPLY_INCOMPLETE;
    out->consumed = ln.total;
    return line_is(&ln, "STORED") ? REPLY_OK : REPLY_ERROR;
}

/* simple: "VALUE <key> <value>\r\n" "END\r\n" on a hit, "END\r\n" on a miss */
static enum reply parse_simple_get(const struct bench *b, const struct request *req,
                                   const char *p, size_t avail, struct parsed *out)
{
    struct line first, end;
    if (!next_line(p, avail, &first))
        return REPLY_INCOMPLETE;
    out->consumed = first.total;
    if (line_is(&first, "END"))
        return REPLY_OK;
    if (!line_starts_with(&first, "VALUE "))
        return REPLY_ERROR;
    if (!next_line(p + first.total, avail - first.total, &end))
        return REPLY_INCOMPLETE;
    out->consumed = first.total + end.total;
    const char *line_end = first.text + first.len;
    const char *value = skip_expected_key(first.text + 6, line_end, req->keys[0]);
    if (!value || !line_is(&end, "END") || (size_t)(line_end - value) != (size_t)b->opt.value_size)
        return REPLY_ERROR;
    out->hits = 1;
    return REPLY_OK;
}

/* text: one "VALUE <key> <flags> <bytes>[ <cas>]\r\n" <data> "\r\n" block per key found,
 * then "END\r\n" */
static enum reply parse_text_get(const struct bench *b, const struct request *req,
                                 const char *p, size_t avail, struct parsed *out)
{
    size_t at = 0;
    unsigned next_key = 0;
    for (;;) {
        struct line ln;
        if (!next_line(p + at, avail - at, &ln))
            return REPLY_INCOMPLETE;
        out->consumed = at + ln.total;
        if (line_is(&ln, "END"))
            return REPLY_OK;
        size_t bytes;
        if (!parse_text_value_line(req, &ln, &next_key, &bytes))
            return REPLY_ERROR;
        size_t block = ln.total + bytes + 2;
        if (avail - at < block)
            return REPLY_INCOMPLETE;
        out->consumed = at + block;
        if (bytes != (size_t)b->opt.value_size || memcmp(p + at + ln.total + bytes, "\r\n", 2) != 0)
            return REPLY_ERROR;
        out->hits++;
        at += block;
    }
}

/* One binary response packet, whole; nothing when it has not all arrived yet. */
struct bin_packet {
    unsigned magic, opcode, status, nextras;
    const char *key;
    size_t nkey, nvalue, total;
};

#define BIN_BODY_MAX ((size_t)1 << 30)   /* a larger length is garbage, not a reply */

static enum reply next_bin_packet(const char *p, size_t avail, struct bin_packet *pk)
{
    if (avail < BIN_HEADER)
        return REPLY_INCOMPLETE;
    size_t body = get_be32(p + 8);
    if (body > BIN_BODY_MAX)
        return REPLY_ERROR;
    pk->total = BIN_HEADER + body;
    if (avail < pk->total)
        return REPLY_INCOMPLETE;
    pk->magic = (unsigned char)p[0];
    pk->opcode = (unsigned char)p[1];
    pk->nkey = get_be16(p + 2);
    pk->nextras = (unsigned char)p[4];
    pk->status = get_be16(p + 6);
    if (pk->magic != BIN_RESPONSE || pk->nkey + pk->nextras > body)
        return REPLY_ERROR;
    pk->key = p + BIN_HEADER + pk->nextras;
    pk->nvalue = body - pk->nkey - pk->nextras;
    return REPLY_OK;
}

#define BIN_STATUS_NOT_FOUND 0x0001

/* A hit carries the flags and exactly --value-size bytes. */
static bool bin_value_ok(const struct bench *b, const struct bin_packet *pk)
{
    return pk->status == 0 && pk->nextras == BIN_GET_EXTRAS && pk->nvalue == (size_t)b->opt.value_size;
}

static bool bin_key_is(const struct bin_packet *pk, uint32_t key_id)
{
    char key[KEY_MAX];
    size_t nkey = format_key(key, key_id);
    return pk->nkey == nkey && memcmp(pk->key, key, nkey) == 0;
}

/* A set: one packet, status 0. A get: one packet, a hit or "not found". A multi-get: a GETKQ
 * packet per key found, in request order, then the NOOP's. */
static enum reply parse_binary(const struct bench *b, const struct request *req,
                               const char *p, size_t avail, struct parsed *out)
{
    size_t at = 0;
    unsigned next_key = 0;
    for (;;) {
        struct bin_packet pk;
        enum reply r = next_bin_packet(p + at, avail - at, &pk);
        if (r == REPLY_ERROR)
            out->consumed = avail;
        if (r != REPLY_OK)
            return r;
        at += pk.total;
        out->consumed = at;
        if (req->is_set)
            return pk.opcode == BIN_SET && pk.status == 0 ? REPLY_OK : REPLY_ERROR;
        if (req->nkeys == 1) {
            if (pk.opcode != BIN_GET || (pk.status != 0 && pk.status != BIN_STATUS_NOT_FOUND))
                return REPLY_ERROR;
            if (pk.status == BIN_STATUS_NOT_FOUND)
                return REPLY_OK;
            out->hits = 1;
            return bin_value_ok(b, &pk) ? REPLY_OK : REPLY_ERROR;
        }
        if (pk.opcode == BIN_NOOP)
            return REPLY_OK;
        while (next_key < req->nkeys && !bin_key_is(&pk, req->keys[next_key]))
            next_key++;
        if (pk.opcode != BIN_GETKQ || next_key++ == req->nkeys || !bin_value_ok(b, &pk))
            return REPLY_ERROR;
        out->hits++;
    }
}

/* Parses the reply to `req` at the front of p. Anything other than the expected reply
 * (ERROR, CLIENT_ERROR, SERVER_ERROR, a wrong key...) ends at the offending line and is
 * REPLY_ERROR. */
static enum reply parse_reply(const struct bench *b, const struct request *req,
                              const char *p, size_t avail, struct parsed *out)
{
    out->consumed = 0;
    out->hits = 0;
    if (b->opt.protocol == PROTO_BINARY)
        return parse_binary(b, req, p, avail, out);
    if (req->is_set)
        return parse_set_reply(p, avail, out);
    if (b->opt.protocol == PROTO_SIMPLE)
        return parse_simple_get(b, req, p, avail, out);
    return parse_text_get(b, req, p, avail, out);
}

/* ---------------------------------------------------------------- connection I/O */

static void record_reply(struct bench *b, const struct request *req, enum reply r,
                         unsigned hits, uint64_t now)
{
    if (r == REPLY_ERROR) {
        b->stats.errors++;   /* errors count in every phase, including preload */
        return;
    }
    if (b->phase != PHASE_TRAFFIC || now < b->measure_start || now >= b->measure_end)
        return;
    struct stats *s = &b->stats;
    s->ops++;
    hist_add(&s->latency, now - req->sent_ns);
    if (req->is_set) {
        s->sets++;
    } else {
        s->gets++;
        s->get_keys += req->nkeys;
        s->hits += hits;
    }
}

static void consume_replies(struct bench *b, struct conn *c, uint64_t now)
{
    while (c->inflight > 0 && c->in.start < c->in.end) {
        const struct request *req = queue_slot(c, 0);
        struct parsed parsed;
        enum reply r = parse_reply(b, req, c->in.data + c->in.start, c->in.end - c->in.start, &parsed);
        if (r == REPLY_INCOMPLETE)
            return;
        buffer_consume(&c->in, parsed.consumed);
        record_reply(b, req, r, parsed.hits, now);
        c->queue_head = (c->queue_head + 1) % c->queue_cap;
        c->inflight--;
    }
    if (c->in.start < c->in.end && c->inflight == 0) {
        fail(b, "server sent %zu bytes nobody asked for after %" PRIu64 " error replies (wrong --protocol?)",
             c->in.end - c->in.start, b->stats.errors);
        buffer_consume(&c->in, c->in.end - c->in.start);
    }
}

static void set_want_write(struct bench *b, struct conn *c, bool want)
{
    if (c->want_write == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fail(b, "epoll_ctl: %s", strerror(errno));
    c->want_write = want;
}

static void conn_flush(struct bench *b, struct conn *c)
{
    while (c->out.start < c->out.end) {
        ssize_t n = send(c->fd, c->out.data + c->out.start, c->out.end - c->out.start, MSG_NOSIGNAL);
        if (n > 0) {
            buffer_consume(&c->out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_write(b, c, true);
            return;
        } else {
            fail(b, "send: %s", strerror(errno));
            return;
        }
    }
    set_want_write(b, c, false);
}

static void start_traffic(struct bench *b, uint64_t now);

static void check_preload_done(struct bench *b, struct conn *c, uint64_t now)
{
    if (c->preload_done || c->inflight > 0 || c->preload_next < (uint32_t)b->opt.keys)
        return;
    c->preload_done = true;
    if (--b->preload_pending == 0)
        start_traffic(b, now);
}

/* Tops the connection up to its in-flight target and sends what was queued. */
static void conn_fill(struct bench *b, struct conn *c, uint64_t now)
{
    if (b->phase == PHASE_PRELOAD) {
        while (c->inflight < PRELOAD_DEPTH && c->preload_next < (uint32_t)b->opt.keys) {
            enqueue_set(b, c, c->preload_next, now);
            c->preload_next += (uint32_t)b->opt.conns;
        }
    } else {
        while (c->inflight < (unsigned)b->opt.pipeline) {
            if (random_unit(&c->rng) < b->opt.set_ratio)
                enqueue_set(b, c, (uint32_t)(next_random(&c->rng) % (uint64_t)b->opt.keys), now);
            else
                enqueue_get(b, c, now);
        }
    }
    conn_flush(b, c);
}

static void start_traffic(struct bench *b, uint64_t now)
{
    b->phase = PHASE_TRAFFIC;
    b->measure_start = now + seconds_to_ns(b->opt.warmup_s);
    b->measure_end = b->measure_start + seconds_to_ns(b->opt.duration_s);
    for (int i = 0; i < b->opt.conns && !b->failed; i++)
        conn_fill(b, &b->conns[i], now);
}

/* Level-triggered epoll: stopping after a short read is safe because leftover data re-arms
 * EPOLLIN, and it saves the recv() that would only return EAGAIN. */
static void conn_read(struct bench *b, struct conn *c)
{
    for (;;) {
        buffer_reserve(&c->in, READ_CHUNK);
        size_t room = c->in.cap - c->in.end;
        ssize_t n = recv(c->fd, c->in.data + c->in.end, room, 0);
        if (n == 0) {
            fail(b, "server closed a connection");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fail(b, "recv: %s", strerror(errno));
            return;
        }
        c->in.end += (size_t)n;
        uint64_t now = now_ns();
        consume_replies(b, c, now);
        if (b->phase == PHASE_PRELOAD)
            check_preload_done(b, c, now);
        if (!b->failed)
            conn_fill(b, c, now);
        if ((size_t)n < room || b->failed)
            return;
    }
}

/* ---------------------------------------------------------------- setup */

/* Blocking connect keeps setup simple (loopback connects are immediate); the socket
 * goes non-blocking afterwards for the event loop. */
static int connect_local(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "loadgen: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "loadgen: connect unix:%s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int connect_to(const struct options *o)
{
    if (o->socket)
        return connect_local(o->socket);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s: %s\n", o->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            fprintf(stderr, "loadgen: connect %s:%s: %s\n", o->host, o->port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Each queue slot owns a fixed run of key_store, so enqueueing a get never allocates. */
static bool alloc_queue(struct conn *c, unsigned depth, unsigned keys_per_request)
{
    c->queue_cap = depth;
    c->queue = calloc(depth, sizeof *c->queue);
    c->key_store = calloc((size_t)depth * keys_per_request, sizeof *c->key_store);
    if (!c->queue || !c->key_store)
        return false;
    for (unsigned i = 0; i < depth; i++)
        c->queue[i].keys = c->key_store + (size_t)i * keys_per_request;
    return true;
}

static bool open_connections(struct bench *b)
{
    const struct options *o = &b->opt;
    b->conns = calloc((size_t)o->conns, sizeof *b->conns);
    if (!b->conns)
        return false;
    unsigned depth = (unsigned)(o->pipeline > PRELOAD_DEPTH ? o->pipeline : PRELOAD_DEPTH);
    for (int i = 0; i < o->conns; i++) {
        struct conn *c = &b->conns[i];
        c->fd = connect_to(o);
        if (c->fd < 0)
            return false;
        c->preload_next = (uint32_t)i;
        c->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!alloc_queue(c, depth, (unsigned)o->multiget) || epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            return false;
    }
    return true;
}

static void init_bench(struct bench *b, const struct options *o)
{
    memset(b, 0, sizeof *b);
    b->opt = *o;
    b->value = xrealloc(NULL, (size_t)o->value_size);
    for (int i = 0; i < o->value_size; i++)   /* letters only: the simple protocol cannot carry spaces or CR/LF */
        b->value[i] = (char)('a' + i % 26);
    b->text_set_suffix_len = (size_t)snprintf(b->text_set_suffix, sizeof b->text_set_suffix,
                                              " 0 0 %d\r\n", o->value_size);
    b->phase = PHASE_PRELOAD;
    b->preload_pending = o->conns;
}

/* ---------------------------------------------------------------- main loop */

static void handle_event(struct bench *b, const struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(b, c);
    if (!b->failed && (ev->events & EPOLLOUT))
        conn_flush(b, c);
}

static void run(struct bench *b)
{
    uint64_t now = now_ns();
    b->preload_deadline = now + PRELOAD_TIMEOUT_NS;
    for (int i = 0; i < b->opt.conns && !b->failed; i++) {
        conn_fill(b, &b->conns[i], now);
        check_preload_done(b, &b->conns[i], now);  /* conns with no keys to preload */
    }
    struct epoll_event events[MAX_EVENTS];
    while (!b->failed) {
        int n = epoll_wait(b->epfd, events, MAX_EVENTS, EPOLL_TIMEOUT_MS);
        if (n < 0 && errno != EINTR) {
            fail(b, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !b->failed; i++)
            handle_event(b, &events[i]);
        now = now_ns();
        if (b->phase == PHASE_PRELOAD && now > b->preload_deadline)
            fail(b, "preload did not finish within %llu s", PRELOAD_TIMEOUT_NS / 1000000000ull);
        if (b->phase == PHASE_TRAFFIC)
            cpu_window_sample(&b->server_cpu, b->opt.server_pid, now, b->measure_start, b->measure_end);
        if (b->phase == PHASE_TRAFFIC && now >= b->measure_end)
            break;
    }
}

/* ---------------------------------------------------------------- report */

/* Figures derived from the stats, shared by both output formats. */
struct summary {
    const char *proto;
    double ops_per_sec;
    double keys_per_sec;             /* a get counts its N keys, a set its one */
    double p50, p99, p999, max;      /* microseconds */
    char hit_ratio_text[16];         /* of keys asked for by gets; "null" without gets */
    char hit_percent_text[16];       /* the same for people; "n/a" without gets */
    char cpu_per_op_text[24];        /* server CPU us per op; "null" without --server-pid */
    char cpu_percent_text[24];       /* server CPU over the window, 100 = one core; "null" likewise */
};

/* CPU over the sampled window divided by the ops that window saw at the measured rate. */
static void summarize_cpu(const struct bench *b, double ops_per_sec, struct summary *m)
{
    const struct cpu_window *w = &b->server_cpu;
    if (!w->ended || w->wall_end <= w->wall_start || ops_per_sec <= 0)
        return;
    double wall_s = (double)(w->wall_end - w->wall_start) / 1e9;
    double cpu_us = (double)(w->cpu_end - w->cpu_start) / 1e3;
    snprintf(m->cpu_per_op_text, sizeof m->cpu_per_op_text, "%.2f", cpu_us / (ops_per_sec * wall_s));
    snprintf(m->cpu_percent_text, sizeof m->cpu_percent_text, "%.1f", cpu_us / 1e4 / wall_s);
}

static struct summary summarize(const struct bench *b)
{
    const struct options *o = &b->opt;
    const struct stats *s = &b->stats;
    struct summary m = {
        .proto = o->protocol == PROTO_TEXT ? "text" : o->protocol == PROTO_BINARY ? "binary" : "simple",
        .ops_per_sec = (double)s->ops / o->duration_s,
        .keys_per_sec = (double)(s->get_keys + s->sets) / o->duration_s,
        .p50 = (double)hist_percentile(&s->latency, 0.50) / 1000.0,
        .p99 = (double)hist_percentile(&s->latency, 0.99) / 1000.0,
        .p999 = (double)hist_percentile(&s->latency, 0.999) / 1000.0,
        .max = (double)s->latency.max / 1000.0,
        .hit_ratio_text = "null",
        .hit_percent_text = "n/a",
        .cpu_per_op_text = "null",
        .cpu_percent_text = "null",
    };
    summarize_cpu(b, m.ops_per_sec, &m);
    if (s->get_keys) {
        double hit_ratio = (double)s->hits / (double)s->get_keys;
        snprintf(m.hit_ratio_text, sizeof m.hit_ratio_text, "%.4f", hit_ratio);
        snprintf(m.hit_percent_text, sizeof m.hit_percent_text, "%.2f%%", hit_ratio * 100);
    }
    return m;
}

static void print_json(const struct bench *b, const struct summary *m)
{
    const struct options *o = &b->opt;
    const struct stats *s = &b->stats;
    /* With --socket: host "unix:<path>" as memcached names it, and no port. */
    printf("{\"protocol\":\"%s\",\"host\":\"%s%s\",\"port\":%s,\"conns\":%d,\"pipeline\":%d,"
           "\"duration_s\":%g,\"set_ratio\":%g,\"value_size\":%d,\"keys\":%d,\"multiget\":%d,"
           "\"ops\":%" PRIu64 ",\"ops_per_sec\":%.0f,\"keys_per_sec\":%.0f,"
           "\"gets\":%" PRIu64 ",\"get_keys\":%" PRIu64 ",\"sets\":%" PRIu64 ","
           "\"hits\":%" PRIu64 ",\"hit_ratio\":%s,\"errors\":%" PRIu64 ","
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"server_cpu_us_per_op\":%s,\"server_cpu_percent\":%s}\n",
           m->proto, o->socket ? "unix:" : o->host, o->socket ? o->socket : "", o->socket ? "null" : o->port,
           o->conns, o->pipeline, o->duration_s, o->set_ratio,
           o->value_size, o->keys, o->multiget, s->ops, m->ops_per_sec, m->keys_per_sec,
           s->gets, s->get_keys, s->sets, s->hits, m->hit_ratio_text, s->errors,
           m->p50, m->p99, m->p999, m->max, m->cpu_per_op_text, m->cpu_percent_text);
}

static void print_text(const struct bench *b, const struct summary *m)
{
    const struct options *o = &b->opt;
    const struct stats *s = &b->stats;
    char multiget_text[32] = "";
    if (o->multiget > 1)
        snprintf(multiget_text, sizeof multiget_text, ", gets of %d keys", o->multiget);
    printf("%s protocol, %s:%s, %d conns x pipeline %d, %.0f%% sets%s, %d-byte values, %d keys, %g s\n",
           m->proto, o->host, o->port, o->conns, o->pipeline, o->set_ratio * 100, multiget_text,
           o->value_size, o->keys, o->duration_s);
    printf("  throughput  %.0f ops/s (%" PRIu64 " ops)", m->ops_per_sec, s->ops);
    if (o->multiget > 1)   /* with one key per op this would just repeat ops/s */
        printf(", %.0f keys/s", m->keys_per_sec);
    printf("\n  latency     p50 %.1fus  p99 %.1fus  p99.9 %.1fus  max %.1fus\n",
           m->p50, m->p99, m->p999, m->max);
    printf("  gets %" PRIu64, s->gets);
    if (o->multiget > 1)
        printf(" of %" PRIu64 " keys", s->get_keys);
    printf(" (hit ratio %s)  sets %" PRIu64 "  errors %" PRIu64 "\n", m->hit_percent_text, s->sets, s->errors);
    if (o->server_pid)
        printf("  server      %s us CPU/op, %s%% CPU\n", m->cpu_per_op_text, m->cpu_percent_text);
}

static void print_report(const struct bench *b)
{
    struct summary m = summarize(b);
    if (b->opt.json)
        print_json(b, &m);
    else
        print_text(b, &m);
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);

    static struct bench bench;   /* static: the histogram is too big to live on the stack comfortably */
    init_bench(&bench, &opt);
    bench.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (bench.epfd < 0 || !open_connections(&bench)) {
        fprintf(stderr, "loadgen: could not open %d connections to %s:%s\n", opt.conns, opt.host, opt.port);
        return 1;
    }
    run(&bench);
    if (bench.failed)
        return 1;
    print_report(&bench);
    if (bench.stats.errors > 0) {
        fprintf(stderr, "loadgen: %" PRIu64 " error replies\n", bench.stats.errors);
        return 1;
    }
    return 0;
}
