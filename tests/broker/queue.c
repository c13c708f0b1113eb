// SPDX-License-Identifier: MIT
/*
 * The request channel: ONE bounded queue shared by all network and handler
 * threads, like Kafka's ArrayBlockingQueue(queued.max.requests = 500). One
 * mutex for all of it is the point: it is the contention Kafka has.
 * Handlers wait 300 ms at a time, as KafkaRequestHandler does, so idle
 * handlers wake up periodically on the futex.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca))
		return -1;
	/* timed waits on the monotonic clock: immune to wall-clock steps */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return rc ? -1 : 0;
}

void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t due_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(due_ns / 1000000000ull),
			      .tv_nsec = (long)(due_ns % 1000000000ull)};

	if (due_ns == UINT64_MAX)
		pthread_cond_wait(cv, mu);
	else
		pthread_cond_timedwait(cv, mu, &ts);
}

int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool every_nth(uint64_t *counter, uint32_t every)
{
	if (!every)
		return false;
	return __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED) % every == 0;
}

void request_free(struct request *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->resp);
	free(r->parts);
	free(r->spans);
	fetch_req_free(r->fetch);
	free(r);
}

int rqueue_init(struct rqueue *q, size_t cap)
{
	q->head = q->tail = NULL;
	q->n = 0;
	q->cap = cap;
	q->closed = false;
	pthread_mutex_init(&q->mu, NULL);
	if (cond_init_monotonic(&q->not_empty) || cond_init_monotonic(&q->not_full))
		return -1;
	return 0;
}

void rqueue_destroy(struct rqueue *q)
{
	struct request *r;

	while ((r = q->head)) {
		q->head = r->next;
		request_free(r);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
}

bool rqueue_put(struct rqueue *q, struct request *r)
{
	pthread_mutex_lock(&q->mu);
	while (q->n >= q->cap && !q->closed)
		pthread_cond_wait(&q->not_full, &q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	return true;
}

static void deadline(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

struct request *rqueue_poll(struct rqueue *q, uint32_t ms)
{
	struct timespec ts;
	struct request *r;

	deadline(&ts, ms);
	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->closed) {
		if (pthread_cond_timedwait(&q->not_empty, &q->mu, &ts) == ETIMEDOUT)
			break;
	}
	r = q->head;
	if (r) {
		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

void rqueue_close(struct rqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}
