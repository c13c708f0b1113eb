// SPDX-License-Identifier: MIT
/*
 * refbroker: start-up and shutdown. The threads are started in dependency
 * order and stopped in reverse: acceptor and replica fetchers, then the
 * request queue is closed (handlers drain it), the purgatories empty
 * (acks=all still waiting for followers: REQUEST_TIMED_OUT), network threads write what
 * they can, then the scheduler and the truth writer finish the files.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = 1;
	signal(sig, SIG_DFL); /* a second signal kills */
}

/* Dual-stack [::]:port when IPv6 is there, else 0.0.0.0:port. */
static int listen_on(struct broker *b)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(b->o.port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(b->o.port)};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, zero = 0, fd;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6))) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)))
			goto fail;
	}
	if (listen(fd, 512) || getsockname(fd, (struct sockaddr *)&ss, &sl))
		goto fail;
	b->listen_fd = fd;
	b->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
fail:
	fprintf(stderr, "refbroker: cannot listen on port %u: %s\n", b->o.port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int start_nets(struct broker *b)
{
	if (!(b->nets = calloc(b->o.net_threads, sizeof(*b->nets))))
		return -1;
	for (uint32_t i = 0; i < b->o.net_threads; i++) {
		b->nets[i].epfd = b->nets[i].evfd = -1;
		if (net_init(&b->nets[i], b, i))
			return -1;
	}
	for (uint32_t i = 0; i < b->o.net_threads; i++)
		if (pthread_create(&b->nets[i].thr, NULL, net_main, &b->nets[i]))
			return -1;
	return 0;
}

static int start(struct broker *b)
{
	struct stat st;

	if (stat(b->o.log_dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "refbroker: --log-dir %s: not a directory\n", b->o.log_dir);
		return -1;
	}
	b->hog_cpu = b->o.cpu_hog ? hog_pick_cpu() : -1;
	if (rqueue_init(&b->rq, RB_QUEUE_CAP) || truth_open(b) || logs_init(b) ||
	    replica_start(b) || purgatory_start(b) || fetch_purgatory_start(b) || listen_on(b))
		return -1;
	if (fetchers_start(b)) {
		fprintf(stderr, "refbroker: cannot start the replica fetchers\n");
		return -1;
	}
	if (handlers_start(b) || start_nets(b) || (b->o.cpu_hog && cpu_hog_start(b)) ||
	    pthread_create(&b->acceptor, NULL, acceptor_main, b)) {
		fprintf(stderr, "refbroker: cannot start threads\n");
		return -1;
	}
	printf("PORT=%u\n", b->port);
	fflush(stdout);
	return 0;
}

/* Startup failures abort the process: threads may be half started. */
static void shutdown_all(struct broker *b)
{
	pthread_join(b->acceptor, NULL);
	close(b->listen_fd);
	fetchers_stop(b);
	rqueue_close(&b->rq);
	for (uint32_t i = 0; i < b->nhandlers_started; i++)
		pthread_join(b->handlers[i], NULL);
	purgatory_stop(b);
	fetch_purgatory_stop(b);
	replica_stop(b);
	fetchers_free(b);
	for (uint32_t i = 0; i < b->o.net_threads; i++) {
		net_wake(&b->nets[i]);
		pthread_join(b->nets[i].thr, NULL);
		net_destroy(&b->nets[i]);
	}
	if (b->hog_started)
		pthread_join(b->hog, NULL);
	logs_destroy(b);
	truth_close(b);
	rqueue_destroy(&b->rq);
	free(b->nets);
	free(b->handlers);
}

int main(int argc, char **argv)
{
	struct broker b;
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t none, term;
	int rc;

	memset(&b, 0, sizeof(b));
	if ((rc = opts_parse(&b.o, argc, argv)))
		return rc == 1 ? 0 : 2;
	b.stop = &stop_flag;
	b.listen_fd = -1;
	b.next_producer_id = RB_PRODUCER_ID_0 + b.o.broker_id * RB_PRODUCER_ID_BLOCK;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* only the main thread takes SIGTERM: the others inherit the blocked mask */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (start(&b)) {
		fprintf(stderr, "refbroker: start-up failed\n");
		_exit(1);
	}
	sigemptyset(&none);
	while (!stop_flag)
		sigsuspend(&none);
	shutdown_all(&b);
	return 0;
}
