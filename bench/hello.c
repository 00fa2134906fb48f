/* bench/hello.c - the HTTP floor for bench/ingest.sh: a libmicrohttpd server
 * in its fastest configuration on these machines (internal polling thread,
 * epoll, a pool of 8 threads) that reads the request body like the real
 * server and answers every request with a small fixed JSON body, replying on
 * the second call of the access handler as server.c does. epoll is this
 * server's fastest mode here (poll: from 2 % faster to 21 % slower in six
 * runs, 2026-11-26);
 * hudong's own polling threads use poll, which suits its suspended
 * requests better (src/api/server.c).
 *
 * usage: hello [PORT]   (0 or none picks a free port; the port is printed on
 * stdout as "port N"). Runs until SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO_THREADS 8
static const char REPLY[] = "{\"id\":\"1\",\"customer_id\":\"1\",\"status\":\"created\"}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    static int marker;
    if (*con_cls == NULL) { /* headers only: answer after the body */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* the body is read and dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof REPLY - 1, (void *)REPLY, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, 201, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv) {
    long port = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: hello [PORT]\n");
        return 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, on_request,
        NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HELLO_THREADS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "hello: cannot listen on port %ld\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("port %d\n", info ? (int)info->port : (int)port);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
