/* served: the registry of an engine's servers (under the engine's stats_lock, which a listing or a
 * shutdown holds only for one bounded slice) and the bounded pick of sockets by fd. */
#include "served.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

const char *served_state_name(unsigned state)
{
    static const char *const names[] = {"conn_listening", "conn_new_cmd", "conn_waiting", "conn_read",
                                        "conn_parse_cmd", "conn_write",   "conn_nread",   "conn_swallow",
                                        "conn_closing",   "conn_mwrite",  "conn_closed",  "conn_watch",
                                        "conn_io_queue"};
    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "conn_closed";
}

static void _swap(served_socket_t *a, served_socket_t *b)
{
    served_socket_t t = *a;
    *a = *b;
    *b = t;
}

static void _sift_down(served_socket_t *heap, unsigned n, unsigned i)
{
    for (;;) {
        unsigned big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && heap[l].fd > heap[big].fd)
            big = l;
        if (r < n && heap[r].fd > heap[big].fd)
            big = r;
        if (big == i)
            return;
        _swap(&heap[i], &heap[big]);
        i = big;
    }
}

/* O(log max) per socket: a listing of N sockets costs N/max slices of O(N log max) each. */
void served_offer(served_pick_t *pick, const served_socket_t *socket)
{
    if (socket->fd <= pick->after || pick->max == 0)
        return;
    served_socket_t *heap = pick->heap;
    if (pick->n < pick->max) {
        unsigned i = pick->n++;
        heap[i] = *socket;
        while (i > 0 && heap[(i - 1) / 2].fd < heap[i].fd) {
            _swap(&heap[(i - 1) / 2], &heap[i]);
            i = (i - 1) / 2;
        }
    } else if (socket->fd < heap[0].fd) {
        heap[0] = *socket;
        _sift_down(heap, pick->n, 0);
    }
}

void served_add(engine_t *e, served_server_t *server)
{
    pthread_mutex_lock(&e->stats_lock);
    server->next = e->servers;
    e->servers = server;
    pthread_mutex_unlock(&e->stats_lock);
}

void served_remove(engine_t *e, served_server_t *server)
{
    pthread_mutex_lock(&e->stats_lock);
    for (served_server_t **p = &e->servers; *p != NULL; p = &(*p)->next) {
        if (*p == server) {
            *p = server->next;
            break;
        }
    }
    pthread_mutex_unlock(&e->stats_lock);
}

unsigned served_list(engine_t *e, int after, served_socket_t *out, unsigned max)
{
    served_pick_t pick = {after, out, 0, max};
    pthread_mutex_lock(&e->stats_lock);
    for (served_server_t *s = e->servers; s != NULL; s = s->next)
        s->list(s, &pick);
    pthread_mutex_unlock(&e->stats_lock);
    /* Heap sort in place: the largest goes last, the heap shrinks. */
    for (unsigned n = pick.n; n > 1; n--) {
        _swap(&out[0], &out[n - 1]);
        _sift_down(out, n - 1, 0);
    }
    return pick.n;
}

unsigned served_shutdown(engine_t *e, bool graceful)
{
    unsigned told = 0;
    pthread_mutex_lock(&e->stats_lock);
    for (served_server_t *s = e->servers; s != NULL; s = s->next, told++)
        s->shutdown(s, graceful);
    pthread_mutex_unlock(&e->stats_lock);
    return told;
}

bool served_address(int fd, bool peer, char *ip, size_t n, unsigned *port, int *family)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    memset(&addr, 0, sizeof(addr));  /* an unnamed Unix-socket peer fills in only its family */
    if ((peer ? getpeername(fd, (struct sockaddr *)&addr, &len) : getsockname(fd, (struct sockaddr *)&addr, &len)) != 0)
        return false;
    *family = addr.ss_family;
    *port = 0;
    if (n > 0)
        ip[0] = '\0';
    if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&addr;
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, (socklen_t)n);
        *port = ntohs(a6->sin6_port);
    } else if (addr.ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&addr;
        inet_ntop(AF_INET, &a4->sin_addr, ip, (socklen_t)n);
        *port = ntohs(a4->sin_port);
    } else if (addr.ss_family == AF_UNIX && n > 0) {
        snprintf(ip, n, "%s", ((const struct sockaddr_un *)&addr)->sun_path);
    }
    return true;
}
