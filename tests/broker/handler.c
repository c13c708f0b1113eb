// SPDX-License-Identifier: MIT
/*
 * Request handler threads (KafkaRequestHandler), the purgatory that holds
 * acks=all responses for --replica-delay-ms (standing for the followers'
 * fetches), and the --cpu-hog thread.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker.h"

struct handler_arg {
	struct broker *b;
	uint32_t id;
};

/* With --cpu-hog the handlers and the hog share one CPU, so the hog delays them. */
static void pin(const struct broker *b)
{
	cpu_set_t set;

	if (b->hog_cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(b->hog_cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "refbroker: cannot pin to CPU %d\n", b->hog_cpu);
}

static void dispatch(struct broker *b, struct request *r)
{
	r->handler_tid = (int)gettid();
	if (handle_request(b, r))
		r->action = RB_CLOSE;
	if (r->action == RB_RESPOND && r->fetch && r->fetch->delay) {
		fetch_purgatory_add(b, r); /* answered by whoever completes it */
		return;
	}
	if (!replica_produce_done(b, r))
		return; /* acks=all: answered when the high watermark passes it */
	if (r->action == RB_RESPOND && r->acks == -1 && b->o.replica_delay_ms) {
		/* acks=all: completed later, when the "followers" have caught up */
		r->t_due = now_ns() + (uint64_t)b->o.replica_delay_ms * 1000000ull;
		purgatory_add(b, r);
		return;
	}
	r->t_resp_enqueue = now_ns();
	net_respond(b, r);
}

void *handler_main(void *arg)
{
	struct handler_arg *a = arg;
	struct broker *b = a->b;
	char name[16];

	snprintf(name, sizeof(name), "kafka-handler-%u", a->id);
	free(a);
	pthread_setname_np(pthread_self(), name);
	pin(b);
	for (;;) {
		struct request *r = rqueue_poll(&b->rq, RB_POLL_MS);

		if (!r) {
			if (*b->stop)
				break;
			continue; /* 300 ms timeout, as KafkaRequestHandler */
		}
		r->t_dequeue = now_ns();
		dispatch(b, r);
	}
	return NULL;
}

int handlers_start(struct broker *b)
{
	if (!(b->handlers = calloc(b->o.handlers, sizeof(*b->handlers))))
		return -1;
	for (uint32_t i = 0; i < b->o.handlers; i++) {
		struct handler_arg *a = malloc(sizeof(*a));

		if (!a)
			return -1;
		a->b = b;
		a->id = i;
		if (pthread_create(&b->handlers[i], NULL, handler_main, a)) {
			free(a);
			return -1;
		}
		b->nhandlers_started++;
	}
	return 0;
}

/* ---- purgatory: FIFO, since every entry waits the same delay ---- */

static void *purgatory_main(void *arg)
{
	struct broker *b = arg;
	struct purgatory *p = &b->purg;

	pthread_setname_np(pthread_self(), "kafka-purgatory");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct request *r = p->head;
		uint64_t now = now_ns();

		if (r && r->t_due <= now) {
			p->head = r->next;
			if (!p->head)
				p->tail = NULL;
			pthread_mutex_unlock(&p->mu);
			r->t_resp_enqueue = now_ns();
			net_respond(b, r);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->stop && !r)
			break;
		cond_wait_until(&p->cv, &p->mu, r ? r->t_due : UINT64_MAX);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int purgatory_start(struct broker *b)
{
	struct purgatory *p = &b->purg;

	pthread_mutex_init(&p->mu, NULL);
	if (cond_init_monotonic(&p->cv) || pthread_create(&p->thr, NULL, purgatory_main, b))
		return -1;
	return 0;
}

void purgatory_add(struct broker *b, struct request *r)
{
	struct purgatory *p = &b->purg;

	r->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Completes what is left (at its deadline) and joins. */
void purgatory_stop(struct broker *b)
{
	struct purgatory *p = &b->purg;

	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thr, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

/* ---- --cpu-hog ---- */

static void *hog_main(void *arg)
{
	struct broker *b = arg;
	volatile uint64_t spin = 0;

	pthread_setname_np(pthread_self(), "kafka-cpu-hog");
	pin(b);
	/*
	 * nice -10 under SCHED_OTHER: the hog gets ~9x a handler's share of its
	 * CPU without starving the machine (SCHED_FIFO could lock the CPU up).
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), -10))
		fprintf(stderr,
			"refbroker: cpu hog: cannot renice (not root?), running at nice 0\n");
	while (!*b->stop)
		spin++;
	return NULL;
}

int cpu_hog_start(struct broker *b)
{
	if (pthread_create(&b->hog, NULL, hog_main, b))
		return -1;
	b->hog_started = true;
	return 0;
}

/* The first CPU we may run on: handlers and the hog meet there. */
int hog_pick_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			return i;
	return -1;
}
