// SPDX-License-Identifier: MIT
/*
 * The fetch purgatory (Kafka's DelayedFetch in a DelayedOperationPurgatory):
 * a fetch with fewer than min_bytes readable waits here without holding a
 * handler or the network thread (its jvm connection stays muted: no
 * response yet). It completes when an append or an HW advance of one of its
 * partitions makes enough bytes readable (fetch_purgatory_wake, run by the
 * appending handler thread, which then reads and answers, as Kafka's
 * checkAndComplete does), or at its max wait on the kafka-fetch-exp thread
 * (the ExpirationReaper). Each fetch is taken off the list under the mutex
 * by exactly one completer.
 *
 * Lock order: fpurg.mu, then a partition's p->lock (fetch_satisfied may
 * read batch headers); callers of fetch_purgatory_wake hold no p->lock.
 */
#include <stdlib.h>

#include "broker.h"

static void complete_all(struct broker *b, struct request *done)
{
	while (done) {
		struct request *r = done;

		done = r->next;
		r->next = NULL;
		fetch_complete(b, r);
	}
}

static void *reaper_main(void *arg)
{
	struct broker *b = arg;
	struct fetch_purgatory *fp = &b->fpurg;

	pthread_setname_np(pthread_self(), "kafka-fetch-exp");
	pthread_mutex_lock(&fp->mu);
	for (;;) {
		struct request *done = NULL, **pp = &fp->head;
		uint64_t now = now_ns(), next = UINT64_MAX;

		while (*pp) {
			struct request *r = *pp;

			if (r->t_due <= now || fp->stop) {
				*pp = r->next;
				r->next = done;
				done = r;
				continue;
			}
			if (r->t_due < next)
				next = r->t_due;
			pp = &r->next;
		}
		if (done) {
			pthread_mutex_unlock(&fp->mu);
			complete_all(b, done);
			pthread_mutex_lock(&fp->mu);
			continue;
		}
		if (fp->stop)
			break;
		cond_wait_until(&fp->cv, &fp->mu, next);
	}
	pthread_mutex_unlock(&fp->mu);
	return NULL;
}

int fetch_purgatory_start(struct broker *b)
{
	struct fetch_purgatory *fp = &b->fpurg;

	pthread_mutex_init(&fp->mu, NULL);
	if (cond_init_monotonic(&fp->cv) || pthread_create(&fp->thr, NULL, reaper_main, b))
		return -1;
	return 0;
}

/* Takes r off the list if it is still there (nobody completed it yet). */
static bool take(struct fetch_purgatory *fp, struct request *r)
{
	for (struct request **pp = &fp->head; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			return true;
		}
	}
	return false;
}

void fetch_purgatory_add(struct broker *b, struct request *r)
{
	struct fetch_purgatory *fp = &b->fpurg;
	bool mine;

	r->fetch->t_wait_start = now_ns();
	pthread_mutex_lock(&fp->mu);
	r->next = fp->head;
	fp->head = r;
	pthread_cond_signal(&fp->cv);
	/* tryCompleteElseWatch: an append may have come between the read and now */
	mine = fetch_satisfied(r) && take(fp, r);
	pthread_mutex_unlock(&fp->mu);
	if (mine)
		fetch_complete(b, r);
}

void fetch_purgatory_wake(struct broker *b, struct partition *p)
{
	struct fetch_purgatory *fp = &b->fpurg;
	struct request *done = NULL, **pp;

	pthread_mutex_lock(&fp->mu);
	for (pp = &fp->head; *pp;) {
		struct request *r = *pp;

		if (fetch_watches(r, p) && fetch_satisfied(r)) {
			*pp = r->next;
			r->next = done;
			done = r;
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&fp->mu);
	complete_all(b, done);
}

/* Answers what still waits (as at its deadline) and joins. */
void fetch_purgatory_stop(struct broker *b)
{
	struct fetch_purgatory *fp = &b->fpurg;

	pthread_mutex_lock(&fp->mu);
	fp->stop = true;
	pthread_cond_signal(&fp->cv);
	pthread_mutex_unlock(&fp->mu);
	pthread_join(fp->thr, NULL);
	pthread_mutex_destroy(&fp->mu);
	pthread_cond_destroy(&fp->cv);
}
