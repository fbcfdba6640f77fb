/* cpu.c - the server's CPU time for --server-pid: all its threads' run time from /proc, sampled
 * where the measured window opens and where it closes. */
#define _GNU_SOURCE
#include "cpu.h"

#include <dirent.h>
#include <stdio.h>

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

void cpu_window_sample(struct cpu_window *w, long pid, uint64_t now, uint64_t start, uint64_t end)
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
