/* report.c - the results of the measured window: ops/s, latency percentiles, hits, errors and the server's CPU
 * per op, printed for people or as the one JSON line the bench scripts read. */
#define _GNU_SOURCE
#include "loadgen.h"

#include <inttypes.h>
#include <stdio.h>

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

void report_print(const struct bench *b)
{
    struct summary m = summarize(b);
    if (b->opt.json)
        print_json(b, &m);
    else
        print_text(b, &m);
}
