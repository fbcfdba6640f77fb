/* main.c - the floor's options, its values' memory and its listener; then the loop (epoll, or
 * io_uring alone with --uring, where the kernel has it). */
#include "floor.h"

#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum protocol protocol = PROTO_SIMPLE;
char *values;
size_t value_size = 32, nkeys = 1;

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0) {
        perror("floor: listen");
        exit(1);
    }
    return fd;
}

static void parse_options(int argc, char **argv, int *port, bool *uring)
{
    static const struct option longopts[] = {
        {"port", required_argument, 0, 'p'}, {"protocol", required_argument, 0, 'r'},
        {"value-size", required_argument, 0, 'v'}, {"keys", required_argument, 0, 'k'},
        {"uring", no_argument, 0, 'u'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'p')
            *port = atoi(optarg);
        else if (ch == 'v')
            value_size = strtoul(optarg, NULL, 10);
        else if (ch == 'k' && strtoul(optarg, NULL, 10) > 0)
            nkeys = strtoul(optarg, NULL, 10);
        else if (ch == 'u')
            *uring = true;
        else if (ch == 'r' && strcmp(optarg, "simple") == 0)
            protocol = PROTO_SIMPLE;
        else if (ch == 'r' && strcmp(optarg, "text") == 0)
            protocol = PROTO_TEXT;
        else if (ch == 'r' && strcmp(optarg, "binary") == 0)
            protocol = PROTO_BINARY;
        else
            goto usage;
    }
    if (*port > 0 && *port < 65536 && optind == argc)
        return;
usage:
    fprintf(stderr, "usage: floor --port N [--protocol simple|text|binary] [--value-size N] [--keys N] [--uring]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0;
    bool uring = false;
    parse_options(argc, argv, &port, &uring);
    signal(SIGPIPE, SIG_IGN);
    if (value_size > 0 && nkeys > SIZE_MAX / value_size) {
        fprintf(stderr, "floor: --keys times --value-size is too large\n");
        return 2;
    }
    values = xrealloc(NULL, nkeys * value_size + 1);
    for (size_t i = 0; i < value_size; i++)
        values[i] = (char)('a' + i % 26);
    for (size_t k = 1; k < nkeys; k++)
        memcpy(values + k * value_size, values, value_size);
    int listener = listen_on(port);
    if (uring) {
        serve_uring(listener);
        perror("floor: io_uring");
        return 1;
    }
    serve_epoll(listener);
    return 1;
}
