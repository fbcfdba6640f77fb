/* cpu.h - the server's CPU time over the measured window, sampled at its edges from /proc
 * (run.c's loop wakes at least every EPOLL_TIMEOUT_MS, so an edge is late by at most that plus one event batch). */
#ifndef LOADGEN_CPU_H
#define LOADGEN_CPU_H

#include <stdbool.h>
#include <stdint.h>

struct cpu_window {
    bool started, ended;
    uint64_t wall_start, wall_end, cpu_start, cpu_end;
};

void cpu_window_sample(struct cpu_window *w, long pid, uint64_t now, uint64_t start, uint64_t end);

#endif
