// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Replication: see include/kafkalat/replication.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/fnv.h"
#include "kafkalat/grow.h"
#include "kafkalat/replication.h"
#include "kafkalat/strtab.h"
#include "kafkalat/timeline.h"

/* A follower fetch of one partition: t0 = t1 = when the leader read it. */
struct fetch_rec {
	struct span s;
	int64_t offset;
};

struct follower {
	int32_t replica_id;
	bool out_of_isr;   /* inferred: the leader stopped waiting for it */
	uint64_t t_shrink; /* then: the response that showed it, for the shrink's time */
	uint64_t conn_id;
	struct timeline tl;
};

struct rpart {
	uint32_t leader_tgid;
	uint64_t topic_hash; /* fnv1a64 of the name: the key */
	uint32_t topic;	     /* strtab index: the name */
	int32_t partition;
	uint32_t nf;
	struct follower f[REPL_MAX_FOLLOWERS];
};

struct peer {
	uint64_t conn_id;
	uint32_t tgid;
};

struct repl {
	struct repl_config cfg;
	struct strtab str;
	struct rpart *parts;
	size_t nparts, cap;
	uint32_t *index; /* open addressing: parts index + 1, 0 empty */
	uint32_t mask;
	struct peer *peers;
	size_t npeers, peers_cap;
	uint64_t newest;
	struct repl_pair pairs[REPL_MAX_PAIRS];
	uint32_t npairs;
	struct repl_isr_event isr[REPL_MAX_ISR];
	uint32_t nisr;
	struct repl_stats st;
};

void repl_config_default(struct repl_config *cfg)
{
	*cfg = (struct repl_config){
	    .window_ns = 5000000000ull,
	    .max_per_follower = 8192,
	    .max_partitions = 4096,
	    .max_peers = 256,
	};
}

struct repl *repl_new(const struct repl_config *cfg)
{
	struct repl *r;
	uint32_t slots = 1;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (cfg)
		r->cfg = *cfg;
	else
		repl_config_default(&r->cfg);
	if (!r->cfg.window_ns || !r->cfg.max_per_follower || !r->cfg.max_partitions ||
	    !r->cfg.max_peers || r->cfg.max_partitions > (1u << 24))
		goto fail;
	while (slots < 2 * r->cfg.max_partitions)
		slots *= 2;
	r->index = calloc(slots, sizeof(*r->index));
	r->mask = slots - 1;
	if (!r->index || strtab_init(&r->str, r->cfg.max_partitions))
		goto fail;
	return r;
fail:
	repl_free(r);
	return NULL;
}

void repl_free(struct repl *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nparts; i++)
		for (uint32_t k = 0; k < r->parts[i].nf; k++)
			timeline_free(&r->parts[i].f[k].tl);
	for (uint32_t i = 0; i < r->npairs; i++)
		free(r->pairs[i].lag);
	free(r->parts);
	free(r->index);
	free(r->peers);
	strtab_free(&r->str);
	free(r);
}

static uint32_t part_hash(uint32_t leader, uint64_t topic, int32_t partition)
{
	uint64_t h = (topic ^ (uint64_t)leader << 32 ^ (uint32_t)partition) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32);
}

/* The partition's slot in the index: its entry, or the empty one it would take. */
static uint32_t *part_slot(const struct repl *r, uint32_t leader, uint64_t topic, int32_t partition)
{
	for (uint32_t i = part_hash(leader, topic, partition);; i++) {
		uint32_t *s = &r->index[i & r->mask];
		const struct rpart *p = *s ? &r->parts[*s - 1] : NULL;

		if (!p || (p->leader_tgid == leader && p->topic_hash == topic &&
			   p->partition == partition))
			return s;
	}
}

static struct rpart *part_find(const struct repl *r, uint32_t leader, const char *topic,
			       int32_t partition)
{
	uint32_t *s = part_slot(r, leader, fnv1a64(topic), partition);

	return *s ? &r->parts[*s - 1] : NULL;
}

static struct rpart *part_get(struct repl *r, uint32_t leader, const char *topic, int32_t partition)
{
	uint64_t h = fnv1a64(topic);
	uint32_t *s = part_slot(r, leader, h, partition);

	if (*s)
		return &r->parts[*s - 1];
	if (r->nparts >= r->cfg.max_partitions ||
	    grow_array((void **)&r->parts, &r->cap, r->nparts + 1, sizeof(*r->parts),
		       r->cfg.max_partitions))
		return NULL;
	r->parts[r->nparts] = (struct rpart){.leader_tgid = leader,
					     .topic_hash = h,
					     .topic = strtab_intern(&r->str, topic),
					     .partition = partition};
	*s = (uint32_t)++r->nparts;
	return &r->parts[*s - 1];
}

static struct follower *follower_get(struct rpart *p, int32_t replica_id)
{
	for (uint32_t k = 0; k < p->nf; k++)
		if (p->f[k].replica_id == replica_id)
			return &p->f[k];
	if (p->nf >= REPL_MAX_FOLLOWERS)
		return NULL;
	p->f[p->nf] = (struct follower){.replica_id = replica_id};
	timeline_init(&p->f[p->nf].tl, sizeof(struct fetch_rec));
	return &p->f[p->nf++];
}

int repl_add_fetch(struct repl *r, uint32_t leader_tgid, uint64_t conn_id, int32_t replica_id,
		   const char *topic, int32_t partition, int64_t fetch_offset, uint64_t t_read)
{
	struct fetch_rec rec = {.s = {t_read, t_read}, .offset = fetch_offset};
	struct rpart *p;
	struct follower *f;
	int ret;

	if (!topic || !*topic || replica_id < 0 || fetch_offset < 0 || partition < 0 || !t_read) {
		r->st.bad++;
		return -EINVAL;
	}
	p = part_get(r, leader_tgid, topic, partition);
	f = p ? follower_get(p, replica_id) : NULL;
	if (!f) {
		r->st.full++;
		return -ENOMEM;
	}
	if (t_read > r->newest)
		r->newest = t_read;
	if (r->newest > r->cfg.window_ns)
		r->st.evicted += timeline_evict(&f->tl, r->newest - r->cfg.window_ns);
	ret = timeline_insert(&f->tl, &rec, r->cfg.max_per_follower);
	if (ret < 0) {
		r->st.full++;
		return ret;
	}
	r->st.dropped += (uint64_t)ret;
	r->st.fetches++;
	f->conn_id = conn_id;
	return 0;
}

int repl_note_peer(struct repl *r, uint64_t conn_id, uint32_t peer_tgid)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].conn_id == conn_id) {
			r->peers[i].tgid = peer_tgid;
			return 0;
		}
	if (grow_array((void **)&r->peers, &r->peers_cap, r->npeers + 1, sizeof(*r->peers),
		       r->cfg.max_peers)) {
		r->st.peers_full++;
		return -ENOMEM;
	}
	r->peers[r->npeers++] = (struct peer){conn_id, peer_tgid};
	r->st.peers = r->npeers;
	return 0;
}

bool repl_peer_noted(const struct repl *r, uint64_t conn_id)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].conn_id == conn_id)
			return true;
	return false;
}

uint32_t repl_peer(const struct repl *r, uint64_t conn_id)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].conn_id == conn_id)
			return r->peers[i].tgid;
	return 0;
}

/* The follower's first fetch past last, among those read once the
 * leader's write had begun: an earlier one is of another leader epoch (the
 * follower cannot have the batch before the leader wrote it). */
static const struct fetch_rec *covering(const struct follower *f, int64_t last, uint64_t t_from)
{
	for (uint32_t i = timeline_count_before(&f->tl, t_from); i < f->tl.len; i++) {
		const struct fetch_rec *x = timeline_at(&f->tl, i);

		if (x->offset > last)
			return x;
	}
	return NULL;
}

struct shrink {
	const struct repl_cover *c; /* the follower the leader waited for until it left the ISR */
	uint64_t t;		    /* when it left, as inferred */
};

/* A follower without a covering fetch by t_resp that was in the ISR at the
 * append (not inferred out, or inferred out by a response after the
 * append) held the request until the leader dropped it from the ISR: that
 * shrink released it, at the response that first showed the follower gone
 * (this one when it is the first). */
static void note_left(const struct follower *f, const struct repl_batch *b,
		      const struct repl_cover *c, struct shrink *s)
{
	uint64_t t;

	if (f->out_of_isr && b->t_append_end >= f->t_shrink)
		return;
	t = f->out_of_isr ? f->t_shrink : b->t_resp;
	if (!s->c || t > s->t)
		*s = (struct shrink){c, t};
}

enum repl_none repl_find(const struct repl *r, const struct repl_batch *b, struct repl_release *out)
{
	const struct rpart *p;
	struct shrink shrink = {0};

	memset(out, 0, sizeof(*out));
	out->replica_id = -1;
	if (b->last_offset < 0 || b->base_offset < 0 || b->last_offset < b->base_offset)
		return out->none = REPL_NONE_OFFSETS;
	p = b->topic ? part_find(r, b->leader_tgid, b->topic, b->partition) : NULL;
	if (!p || !p->nf)
		return out->none = REPL_NONE_NO_FETCHES;
	out->none = REPL_NONE_NO_COVERING;
	for (uint32_t k = 0; k < p->nf; k++) {
		const struct follower *f = &p->f[k];
		const struct fetch_rec *x = covering(f, b->last_offset, b->t_append_start);
		struct repl_cover *c = &out->f[out->nfollowers++];

		*c = (struct repl_cover){.replica_id = f->replica_id,
					 .conn_id = f->conn_id,
					 .tgid = repl_peer(r, f->conn_id)};
		if (!x || x->s.t0 > b->t_resp)
			note_left(f, b, c, &shrink);
		if (!x)
			continue;
		c->t_cover = x->s.t0;
		c->fetch_offset = x->offset;
		/* the latest covering fetch by t_resp released it: ties go to
		 * the lower replica id, the order followers were first seen */
		if (c->t_cover <= b->t_resp && (out->none || c->t_cover > out->t_release)) {
			out->none = REPL_RELEASED;
			out->t_release = c->t_cover;
			out->replica_id = c->replica_id;
			out->tgid = c->tgid;
			out->conn_id = c->conn_id;
		}
	}
	if (shrink.c) {
		out->none = REPL_RELEASED;
		out->t_release = shrink.t < b->t_resp ? shrink.t : b->t_resp;
		out->replica_id = shrink.c->replica_id;
		out->tgid = shrink.c->tgid;
		out->conn_id = shrink.c->conn_id;
		out->by_shrink = true;
	}
	return out->none;
}

static struct repl_pair *pair_get(struct repl *r, uint32_t leader, int32_t replica_id)
{
	struct repl_pair *p;

	for (uint32_t i = 0; i < r->npairs; i++)
		if (r->pairs[i].leader_tgid == leader && r->pairs[i].replica_id == replica_id)
			return &r->pairs[i];
	if (r->npairs >= REPL_MAX_PAIRS)
		return NULL;
	p = &r->pairs[r->npairs];
	p->lag = malloc(sizeof(*p->lag));
	if (!p->lag)
		return NULL;
	hist_init(p->lag);
	p->leader_tgid = leader;
	p->replica_id = replica_id;
	r->npairs++;
	return p;
}

static void note_isr(struct repl *r, const struct repl_batch *b, const struct rpart *p,
		     const struct repl_cover *c, bool expand)
{
	if (r->nisr >= REPL_MAX_ISR) {
		r->st.isr_more++;
		return;
	}
	r->isr[r->nisr++] = (struct repl_isr_event){
	    .t_ns = b->t_resp,
	    .leader_tgid = b->leader_tgid,
	    .topic = strtab_str(&r->str, p->topic),
	    .partition = b->partition,
	    .replica_id = c->replica_id,
	    .follower_tgid = c->tgid,
	    .corr_id = b->corr_id,
	    .expand = expand,
	};
}

/* Without a covering fetch by t_resp the leader stopped waiting for the
 * follower: out of the ISR. It comes back with the first later request it
 * covered by t_resp: its log end had then reached the high watermark, the
 * leader's rule for adding it back (Kafka's maybeExpandIsr). */
static void infer_isr(struct repl *r, const struct repl_batch *b, struct rpart *p,
		      const struct repl_release *rel)
{
	for (uint32_t k = 0; k < rel->nfollowers; k++) {
		const struct repl_cover *c = &rel->f[k];
		struct follower *f = follower_get(p, c->replica_id);
		bool missed = !c->t_cover || c->t_cover > b->t_resp;

		if (!f)
			continue;
		if (!f->out_of_isr && missed) {
			f->out_of_isr = true;
			f->t_shrink = b->t_resp;
			note_isr(r, b, p, c, false);
		} else if (f->out_of_isr && !missed && c->t_cover > f->t_shrink) {
			f->out_of_isr = false;
			note_isr(r, b, p, c, true);
		}
	}
}

static void add_lags(struct repl *r, const struct repl_batch *b, const struct repl_release *rel)
{
	for (uint32_t k = 0; k < rel->nfollowers; k++) {
		const struct repl_cover *c = &rel->f[k];
		struct repl_pair *pr;

		if (!c->t_cover)
			continue;
		pr = pair_get(r, b->leader_tgid, c->replica_id);
		if (!pr) {
			r->st.pairs_full++;
			continue;
		}
		if (c->tgid)
			pr->follower_tgid = c->tgid;
		hist_record(pr->lag,
			    c->t_cover > b->t_append_end ? c->t_cover - b->t_append_end : 0);
		if (!rel->none && !rel->by_shrink && c->replica_id == rel->replica_id)
			pr->released++;
	}
}

enum repl_none repl_batch(struct repl *r, const struct repl_batch *b, struct repl_release *out)
{
	struct rpart *p;

	r->st.batches++;
	if (repl_find(r, b, out) == REPL_NONE_OFFSETS || out->none == REPL_NONE_NO_FETCHES)
		return out->none;
	p = part_find(r, b->leader_tgid, b->topic, b->partition);
	add_lags(r, b, out);
	if (p)
		infer_isr(r, b, p, out);
	return out->none;
}

void repl_count_request(struct repl *r, enum repl_none why, bool peer_known)
{
	r->st.requests++;
	if (why >= REPL_NONE_MAX)
		return;
	if (why != REPL_RELEASED) {
		r->st.none[why]++;
		return;
	}
	r->st.released++;
	if (!peer_known)
		r->st.peer_unknown++;
}

const struct repl_stats *repl_stats(const struct repl *r)
{
	return &r->st;
}

const struct repl_isr_event *repl_isr_events(const struct repl *r, uint32_t *n)
{
	*n = r->nisr;
	return r->isr;
}

const struct repl_pair *repl_pairs(const struct repl *r, uint32_t *n)
{
	*n = r->npairs;
	return r->pairs;
}

const char *repl_none_name(unsigned int why)
{
	static const char *const names[REPL_NONE_MAX] = {
	    "released",
	    "offsets_unknown",
	    "no_fetches",
	    "no_covering_fetch",
	};

	return why < REPL_NONE_MAX ? names[why] : NULL;
}
