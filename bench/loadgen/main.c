/* main.c - loadgen, the benchmarks' single-threaded epoll load generator: its options and main. It keeps N pipelined
 * connections busy with a get/set mix and reports ops/s, latency percentiles, hits, errors and the server's CPU per op. */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define MULTIGET_MAX 1000         /* keeps a request line (about 15 bytes a key) well under servers' line limits */

/* ---------------------------------------------------------------- options */

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

/* ---------------------------------------------------------------- main */

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

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);

    static struct bench bench;   /* static: the histogram is too big to live on the stack comfortably */
    init_bench(&bench, &opt);
    bench.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (bench.epfd < 0 || !conn_open_all(&bench)) {
        fprintf(stderr, "loadgen: could not open %d connections to %s:%s\n", opt.conns, opt.host, opt.port);
        return 1;
    }
    run(&bench);
    if (bench.failed)
        return 1;
    report_print(&bench);
    if (bench.stats.errors > 0) {
        fprintf(stderr, "loadgen: %" PRIu64 " error replies\n", bench.stats.errors);
        return 1;
    }
    return 0;
}
