// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The explainer (explain.h): cause records and completed requests in,
 * attributed requests, bands, journal overlap and folded stacks out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/bands.h"
#include "kafkalat/cause.h"
#include "kafkalat/cause_events.h"
#include "kafkalat/explain.h"
#include "kafkalat/folded.h"
#include "kafkalat/history.h"
#include "kafkalat/replication.h"
#include "kafkalat/segment.h"

#define NAME_SLOTS   8192  /* per generation; a generation turns over at half full */
#define STACK_IDS    65536 /* ids above are classified each time, not cached */
#define STACK_FRAMES KLC_MAX_STACK

/* ---- file names: (dev, ino) -> topic-partition of a log segment ---- */

struct name {
	uint64_t ino;
	uint32_t dev;
	uint8_t used, is_log;
	int32_t partition;
	char *topic;
};

struct names {
	struct name *slot;
	uint32_t used;
};

/* Two generations: lookups look in both and copy a hit in the old one
 * forward, so files still written survive the turnover and closed ones age
 * out without a close event. */
struct name_table {
	struct names gen[2]; /* [0] current */
};

static uint32_t name_hash(uint32_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ ((uint64_t)dev << 40)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 40) & (NAME_SLOTS - 1);
}

static struct name *names_find(const struct names *g, uint32_t dev, uint64_t ino, bool *free_slot)
{
	uint32_t i = name_hash(dev, ino);

	for (uint32_t n = 0; n < NAME_SLOTS; n++, i = (i + 1) & (NAME_SLOTS - 1)) {
		struct name *e = &g->slot[i];

		if (!e->used) {
			*free_slot = true;
			return e;
		}
		if (e->dev == dev && e->ino == ino) {
			*free_slot = false;
			return e;
		}
	}
	*free_slot = false;
	return NULL;
}

static void names_clear(struct names *g)
{
	if (!g->slot || !g->used)
		return;
	for (uint32_t i = 0; i < NAME_SLOTS; i++)
		free(g->slot[i].topic);
	memset(g->slot, 0, NAME_SLOTS * sizeof(*g->slot));
	g->used = 0;
}

static void names_turn_over(struct name_table *nt)
{
	struct names old = nt->gen[1];

	names_clear(&old);
	nt->gen[1] = nt->gen[0];
	nt->gen[0] = old;
}

/* Stores a copy of e (its topic is taken over or freed). 0 or -ENOMEM. */
static int names_put(struct name_table *nt, struct name *e)
{
	struct name *slot;
	bool fresh;

	if (nt->gen[0].used >= NAME_SLOTS / 2)
		names_turn_over(nt);
	slot = names_find(&nt->gen[0], e->dev, e->ino, &fresh);
	if (!slot) {
		free(e->topic);
		return -ENOMEM;
	}
	if (!fresh)
		free(slot->topic);
	else
		nt->gen[0].used++;
	*slot = *e;
	slot->used = 1;
	return 0;
}

static const struct name *names_get(struct name_table *nt, uint32_t dev, uint64_t ino)
{
	struct name *e, copy;
	bool fresh;

	e = names_find(&nt->gen[0], dev, ino, &fresh);
	if (e && !fresh)
		return e;
	e = names_find(&nt->gen[1], dev, ino, &fresh);
	if (!e || fresh)
		return NULL;
	copy = *e;
	copy.topic = e->topic ? strdup(e->topic) : NULL;
	if (e->topic && !copy.topic)
		return e;
	if (names_put(nt, &copy))
		return NULL;
	return names_find(&nt->gen[0], dev, ino, &fresh);
}

/* ---- stacks: id -> cause, deciding frame, frames ---- */

struct stack_info {
	uint8_t state; /* 0 not seen, 1 known, 2 could not be read */
	uint8_t cause;
	char *top;    /* the deciding frame */
	char *frames; /* outermost first, ';'-joined */
};

/* ---- held requests ---- */

#define HELD_INLINE_PARTS 4

/* Most produce requests name one topic and a few partitions: those live in
 * the record itself (one allocation per request, not three). */
struct held {
	struct held *next;
	struct corr_request r;
	struct corr_topic *topics; /* &topic_inline or allocated */
	struct corr_part *parts;   /* part_inline or allocated */
	struct corr_topic topic_inline;
	struct corr_part part_inline[HELD_INLINE_PARTS];
};

struct topic_id {
	char hex[33]; /* as the correlator writes an id */
	char name[KLT_TOPIC_NAME_MAX + 1];
};

/* A thread's broker (KLC_EV_THREAD): an open-addressing table by tid. */
struct thread_ent {
	uint32_t tid; /* 0: free */
	uint32_t tgid;
};

#define EXPLAIN_MAX_THREADS (1u << 20)

/* A KLC_EV_BATCH waiting for its write's KLC_EV_FILE, which follows it
 * from the same program run: one per tid slot is enough. */
#define BATCH_SLOTS 64
struct batch_wait {
	uint32_t tid; /* 0: none */
	uint64_t t_start;
	int64_t base_offset, last_offset;
	int64_t producer_id;
	int32_t base_sequence;
};

/* When cause records were lost: from the first failed reservation to the
 * loss record. LOSS_WINDOWS kept; beyond, the oldest two merge (wider,
 * so a request near them is still taken as touched). */
#define LOSS_WINDOWS 64
struct loss_window {
	uint64_t from, to;
};

struct explain {
	struct explain_config cfg;
	struct explain_stats st;
	struct topic_id *ids; /* grown on demand up to EXPLAIN_MAX_TOPIC_IDS */
	uint32_t nids, ids_cap;
	explain_stack_fn stack_fn;
	void *stack_ctx;
	explain_result_fn result_fn;
	void *result_ctx;
	struct attrib *attrib;
	struct repl *repl; /* follower fetches: acks=all releases */
	struct bands *bands;
	struct history *history;
	struct name_table names;
	struct stack_info *stacks; /* grown on demand up to STACK_IDS */
	uint32_t stacks_cap;
	struct held *head, *last; /* held requests, in completion order */
	uint32_t nheld;
	struct thread_ent *threads;
	size_t threads_cap, nthreads;
	struct batch_wait batch[BATCH_SLOTS];
	struct loss_window losses[LOSS_WINDOWS];
	size_t nlosses;
};

void explain_config_default(struct explain_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	attrib_config_default(&cfg->attrib);
	cfg->hold_ns = 300000000ull;
	cfg->max_pending = 1u << 18;
	cfg->max_slow = 4096;
	cfg->max_commits = 65536;
	cfg->max_block = 262144;
	cfg->block_window_ns = 10000000000ull;
}

/* A request kept among the slowest keeps the block I/O of its window: by the
 * end of the run the history has moved past it. */
static void note_blocks(void *history, struct slow_request *s)
{
	history_note_blocks(history, s);
}

static uint32_t thread_tgid(const void *ctx, uint32_t tid)
{
	return explain_thread_tgid(ctx, tid);
}

struct explain *explain_new(const struct explain_config *cfg, explain_stack_fn stack_fn,
			    void *stack_ctx, explain_result_fn result_fn, void *result_ctx)
{
	struct explain *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (cfg)
		t->cfg = *cfg;
	else
		explain_config_default(&t->cfg);
	if (!t->cfg.max_pending)
		t->cfg.max_pending = 1;
	t->stack_fn = stack_fn;
	t->stack_ctx = stack_ctx;
	t->result_fn = result_fn;
	t->result_ctx = result_ctx;
	t->attrib = attrib_new(&t->cfg.attrib);
	t->repl = repl_new(&(struct repl_config){.window_ns = t->cfg.attrib.window_ns,
						 .max_per_follower = t->cfg.attrib.max_per_thread,
						 .max_partitions = 4096,
						 .max_peers = 256});
	t->bands = bands_new(t->cfg.max_slow);
	t->history = history_new(t->cfg.max_commits, t->cfg.max_block, t->cfg.block_window_ns);
	t->names.gen[0].slot = calloc(NAME_SLOTS, sizeof(struct name));
	t->names.gen[1].slot = calloc(NAME_SLOTS, sizeof(struct name));
	if (!t->attrib || !t->repl || !t->bands || !t->history || !t->names.gen[0].slot ||
	    !t->names.gen[1].slot) {
		explain_free(t);
		return NULL;
	}
	attrib_set_tgid_fn(t->attrib, thread_tgid, t);
	attrib_set_replication(t->attrib, t->repl);
	bands_on_keep(t->bands, note_blocks, t->history);
	return t;
}

static void held_free(struct held *h)
{
	if (!h)
		return;
	if (h->topics != &h->topic_inline)
		free(h->topics);
	if (h->parts != h->part_inline)
		free(h->parts);
	free(h);
}

void explain_free(struct explain *t)
{
	if (!t)
		return;
	while (t->head) {
		struct held *h = t->head;

		t->head = h->next;
		held_free(h);
	}
	free(t->ids);
	free(t->threads);
	for (uint32_t i = 0; i < t->stacks_cap; i++) {
		free(t->stacks[i].top);
		free(t->stacks[i].frames);
	}
	names_clear(&t->names.gen[0]);
	names_clear(&t->names.gen[1]);
	free(t->names.gen[0].slot);
	free(t->names.gen[1].slot);
	free(t->stacks);
	history_free(t->history);
	bands_free(t->bands);
	attrib_free(t->attrib);
	repl_free(t->repl);
	free(t);
}

const struct explain_stats *explain_stats(const struct explain *t)
{
	return &t->st;
}

struct repl *explain_repl(struct explain *t)
{
	return t->repl;
}

const struct attrib_stats *explain_attrib_stats(const struct explain *t)
{
	return attrib_stats(t->attrib);
}

const struct bands *explain_bands(const struct explain *t)
{
	return t->bands;
}

const struct history *explain_history(const struct explain *t)
{
	return t->history;
}

/* ---- records ---- */

/* A bounded copy of a kernel string field: the kernel terminates it, but a
 * record is never trusted. */
static void copy_field(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int on_file_name(struct explain *t, const struct klc_file_name_event *e)
{
	char path[KLC_NAME_LEN + KLC_PARENT_LEN + 4], name[KLC_NAME_LEN + 1],
	    parent[KLC_PARENT_LEN + 1];
	struct segment seg;
	struct name n = {.ino = e->ino, .dev = e->dev, .partition = -1};

	t->st.file_names++;
	copy_field(name, e->name, KLC_NAME_LEN);
	copy_field(parent, e->parent, KLC_PARENT_LEN);
	snprintf(path, sizeof(path), "/%s/%s", parent, name);
	if (segment_parse(path, &seg) == 0 && seg.kind == SEGMENT_LOG) {
		n.is_log = 1;
		n.partition = seg.partition;
		if (!(n.topic = strdup(seg.topic))) {
			t->st.names_full++;
			return 0;
		}
	}
	if (names_put(&t->names, &n))
		t->st.names_full++;
	return 0;
}

static bool is_write(uint8_t kind)
{
	return kind == KLC_SYS_WRITE || kind == KLC_SYS_PWRITE64 || kind == KLC_SYS_WRITEV ||
	       kind == KLC_SYS_PWRITEV || kind == KLC_SYS_PWRITEV2;
}

static struct thread_ent *thread_slot(struct thread_ent *v, size_t cap, uint32_t tid)
{
	size_t i = (tid * 2654435761u) & (cap - 1);

	while (v[i].tid && v[i].tid != tid)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Room for one more thread: the table doubles at half full. */
static int threads_grow(struct explain *t)
{
	size_t ncap = t->threads_cap ? t->threads_cap * 2 : 1024;
	struct thread_ent *v;

	if ((t->nthreads + 1) * 2 <= t->threads_cap)
		return 0;
	if (ncap > EXPLAIN_MAX_THREADS * 2 || !(v = calloc(ncap, sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < t->threads_cap; i++)
		if (t->threads[i].tid)
			*thread_slot(v, ncap, t->threads[i].tid) = t->threads[i];
	free(t->threads);
	t->threads = v;
	t->threads_cap = ncap;
	return 0;
}

static int on_thread(struct explain *t, const struct klc_thread_event *e)
{
	struct thread_ent *s;

	if (!e->tid || !e->tgid)
		return -EINVAL;
	t->st.threads++;
	if (threads_grow(t)) {
		t->st.threads_full++;
		return 0;
	}
	s = thread_slot(t->threads, t->threads_cap, e->tid);
	if (!s->tid)
		t->nthreads++;
	s->tid = e->tid;
	s->tgid = e->tgid; /* a tid reused by another broker is announced again */
	return 0;
}

uint32_t explain_thread_tgid(const struct explain *t, uint32_t tid)
{
	if (!tid || !t->threads_cap)
		return 0;
	return thread_slot(t->threads, t->threads_cap, tid)->tgid;
}

static int on_batch(struct explain *t, const struct klc_batch_event *e)
{
	struct batch_wait *w = &t->batch[e->tid % BATCH_SLOTS];

	if (!e->tid || !e->batches || e->base_offset < 0 ||
	    (e->last_offset != -1 && e->last_offset < e->base_offset))
		return -EINVAL;
	t->st.batches++;
	w->tid = e->tid;
	w->t_start = e->t_start_ns;
	w->base_offset = e->base_offset;
	w->last_offset = e->last_offset;
	w->producer_id = e->producer_id;
	w->base_sequence = e->base_sequence;
	return 0;
}

/* The offsets a KLC_EV_BATCH gave the write e, taken (-1 when none did). */
static void take_batch(struct explain *t, const struct klc_file_event *e, struct attrib_append *w)
{
	struct batch_wait *b = &t->batch[e->tid % BATCH_SLOTS];

	w->base_offset = w->last_offset = w->producer_id = -1;
	w->base_sequence = -1;
	if (b->tid != e->tid || b->t_start != e->t_start_ns)
		return;
	w->base_offset = b->base_offset;
	w->last_offset = b->last_offset;
	w->producer_id = b->producer_id;
	w->base_sequence = b->base_sequence;
	b->tid = 0;
	t->st.batch_writes++;
}

static int on_file(struct explain *t, const struct klc_file_event *e)
{
	const struct name *n = names_get(&t->names, e->dev, e->ino);
	bool sync = e->kind == KLC_SYS_FSYNC || e->kind == KLC_SYS_FDATASYNC;
	struct attrib_append w;

	if (!is_write(e->kind) && !sync)
		return -EINVAL;
	if (!n) {
		t->st.unnamed_writes++;
		return 0;
	}
	if (!n->is_log || e->ret < 0 || (!sync && e->ret == 0)) {
		t->st.other_writes++;
		if (sync && e->ret >= 0)
			attrib_add_fsync(t->attrib, e->tid, NULL, -1, e->t_start_ns, e->t_end_ns);
		return 0;
	}
	t->st.segment_writes++;
	if (sync)
		return attrib_add_fsync(t->attrib, e->tid, n->topic, n->partition, e->t_start_ns,
					e->t_end_ns) == -EINVAL
			   ? -EINVAL
			   : 0;
	w.tid = e->tid;
	w.topic = n->topic;
	w.partition = n->partition;
	w.bytes = (uint64_t)e->ret;
	w.t_start = e->t_start_ns;
	w.t_end = e->t_end_ns;
	take_batch(t, e, &w);
	return attrib_add_write(t->attrib, &w) == -EINVAL ? -EINVAL : 0;
}

static void join_frames(const char *const *frames, int n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = n - 1; i >= 0 && off + 1 < len; i--) {
		const char *name;
		size_t l = cause_frame_name(frames[i], &name);

		if (!l)
			continue;
		if (off && off + 1 < len)
			buf[off++] = ';';
		if (l > len - off - 1)
			l = len - off - 1;
		memcpy(buf + off, name, l);
		off += l;
		buf[off] = '\0';
	}
}

/* The stack is taken inside the BPF program on sched_switch: its innermost
 * frames are the program and the tracepoint trampoline, not the broker's. */
static int skip_plumbing(const char *const *frames, int n)
{
	int i = 0;

	for (int k = 0; k < n && k < 4; k++) {
		const char *name;
		size_t l = cause_frame_name(frames[k], &name);

		if ((l > 9 && !strncmp(name, "bpf_prog_", 9)) ||
		    (l > 13 && !strncmp(name, "bpf_trace_run", 13)) ||
		    (l > 11 && !strncmp(name, "__bpf_trace", 11)) ||
		    (l > 11 && !strncmp(name, "__traceiter", 11)))
			i = k + 1;
	}
	return i;
}

/* The ';'-joined frames of a stack id, outermost first; NULL if unknown. */
static const char *frames_of(const struct explain *t, int32_t stack_id)
{
	if (stack_id >= 0 && (uint32_t)stack_id < t->stacks_cap)
		return t->stacks[stack_id].frames;
	return cause_stackless(stack_id) ? cause_stackless(stack_id)->folded : NULL;
}

/* Room in the cache for stack_id; false when it cannot be cached. */
static bool stacks_reserve(struct explain *t, int32_t stack_id)
{
	uint32_t cap = t->stacks_cap ? t->stacks_cap : 256;
	struct stack_info *n;

	if (stack_id < 0 || stack_id >= STACK_IDS)
		return false;
	if ((uint32_t)stack_id < t->stacks_cap)
		return true;
	while (cap <= (uint32_t)stack_id)
		cap *= 2;
	n = realloc(t->stacks, cap * sizeof(*n));
	if (!n)
		return false;
	memset(n + t->stacks_cap, 0, (cap - t->stacks_cap) * sizeof(*n));
	t->stacks = n;
	t->stacks_cap = cap;
	return true;
}

/* Classifies stack_id into *s (cached for ids below STACK_IDS). */
static void stack_lookup(struct explain *t, int32_t stack_id, struct stack_info *s)
{
	const char *frames[STACK_FRAMES], *top = NULL;
	char joined[4096];
	int n = -ENOENT;

	memset(s, 0, sizeof(*s));
	s->state = 2;
	s->cause = CAUSE_OTHER;
	if (cause_stackless(stack_id)) {
		/* static strings: stack ids below 0 are never cached or freed */
		s->state = 1;
		s->cause = (uint8_t)cause_stackless(stack_id)->cause;
		s->top = (char *)cause_stackless(stack_id)->frames[0];
		return;
	}
	if (stack_id < 0)
		return;
	if ((uint32_t)stack_id < t->stacks_cap && t->stacks[stack_id].state) {
		*s = t->stacks[stack_id];
		return;
	}
	if (t->stack_fn)
		n = t->stack_fn(t->stack_ctx, stack_id, frames, STACK_FRAMES);
	if (n > STACK_FRAMES)
		n = STACK_FRAMES;
	if (n > 0) {
		int skip = skip_plumbing(frames, n);

		s->state = 1;
		s->cause = (uint8_t)cause_classify(frames + skip, (size_t)(n - skip), &top);
		join_frames(frames + skip, n - skip, joined, sizeof(joined));
		if (top) {
			const char *name;
			size_t l = cause_frame_name(top, &name);

			s->top = strndup(l ? name : top, l ? l : strlen(top));
		}
		s->frames = strdup(joined);
		t->st.stacks++;
	} else {
		t->st.stacks_failed++;
	}
	if (stacks_reserve(t, stack_id))
		t->stacks[stack_id] = *s;
	else {
		/* not cached: the caller's copy must not keep pointers we free */
		free(s->top);
		free(s->frames);
		s->top = s->frames = NULL;
	}
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int on_offcpu(struct explain *t, const struct klc_offcpu_event *e)
{
	char comm[KLC_COMM_LEN + 1];
	struct stack_info s = {.cause = CAUSE_OTHER};
	struct attrib_offcpu o = {
	    .tid = e->tid,
	    .t_off = e->t_off_ns,
	    .t_on = e->t_on_ns,
	    .t_wakeup = e->t_wakeup_ns,
	    .blocked = e->blocked != 0,
	    /* -1: none (a failed walk's error code too); <= -2 stackless */
	    .stack_id =
		e->blocked && (e->stack_id >= 0 || cause_stackless(e->stack_id)) ? e->stack_id : -1,
	    .waker_tid = e->waker_tid,
	};

	copy_field(comm, e->waker_comm, KLC_COMM_LEN);
	o.waker_comm = comm;
	if (e->blocked)
		stack_lookup(t, e->stack_id, &s);
	o.cause = (enum cause)s.cause;
	/* an unrecognised wait ended by the journal thread is a journal wait */
	if (o.cause == CAUSE_OTHER && e->blocked && starts_with(comm, "jbd2/"))
		o.cause = CAUSE_JOURNAL;
	o.top_frame = s.top;
	if (t->cfg.futex_from_offcpu && e->blocked &&
	    e->stack_id == KLC_STACK_ID_STACKLESS(KLC_STACKLESS_FUTEX) &&
	    attrib_add_futex(t->attrib, e->tid, e->t_off_ns, e->t_on_ns) == -EINVAL)
		return -EINVAL;
	return attrib_add_offcpu(t->attrib, &o) == -EINVAL ? -EINVAL : 0;
}

/* A history's answer to a record, counted: 1 when its oldest gave way. */
static int count_kept(int gave_way, uint64_t *seen, uint64_t *dropped)
{
	if (gave_way < 0)
		return -EINVAL;
	(*seen)++;
	*dropped += (uint64_t)gave_way;
	return 0;
}

static int on_block(struct explain *t, const struct klc_block_event *e)
{
	return count_kept(history_add_block(t->history, e->dev, e->t_issue_ns, e->t_complete_ns),
			  &t->st.block_requests, &t->st.block_dropped);
}

static int on_commit(struct explain *t, const struct klc_jbd2_commit_event *e)
{
	/* a commit whose start was not seen is taken as instant */
	uint64_t t_start = e->t_start_ns ? e->t_start_ns : e->t_end_ns;

	return count_kept(history_add_commit(t->history, e->dev, t_start, e->t_end_ns),
			  &t->st.commits, &t->st.commits_dropped);
}

static void on_lost(struct explain *t, const struct klc_lost_event *e)
{
	uint64_t from = e->t_first_ns && e->t_first_ns < e->ts_ns ? e->t_first_ns : e->ts_ns;

	t->st.loss_records++;
	for (int k = 0; k < 16; k++)
		t->st.lost[k] += e->counts[k];
	if (t->nlosses == LOSS_WINDOWS) {
		struct loss_window *w = t->losses;

		w[1].from = w[0].from < w[1].from ? w[0].from : w[1].from;
		w[1].to = w[0].to > w[1].to ? w[0].to : w[1].to;
		memmove(w, w + 1, (LOSS_WINDOWS - 1) * sizeof(*w));
		t->nlosses--;
	}
	t->losses[t->nlosses++] = (struct loss_window){from, e->ts_ns};
}

/* The records r's attribution reads were written from its first byte's
 * arrival to hold_ns after its end (an interval is written when it ends):
 * a loss in between may have taken some of them. */
static bool touched_by_loss(const struct explain *t, const struct corr_request *r)
{
	uint64_t begin = r->t_arrival && r->t_arrival < r->t_first ? r->t_arrival : r->t_first;
	uint64_t end = r->t_end + t->cfg.hold_ns;

	for (size_t i = 0; i < t->nlosses; i++)
		if (t->losses[i].from <= end && t->losses[i].to >= begin)
			return true;
	return false;
}

static int dispatch(struct explain *t, uint32_t type, const void *rec)
{
	switch (type) {
	case KLC_EV_FILE:
		return on_file(t, rec);
	case KLC_EV_FUTEX: {
		const struct klc_futex_event *e = rec;

		return attrib_add_futex(t->attrib, e->tid, e->t_start_ns, e->t_end_ns) == -EINVAL
			   ? -EINVAL
			   : 0;
	}
	case KLC_EV_OFFCPU:
		return on_offcpu(t, rec);
	case KLC_EV_BLOCK:
		return on_block(t, rec);
	case KLC_EV_JBD2_COMMIT:
		return on_commit(t, rec);
	case KLC_EV_JBD2_HANDLE:
		t->st.jbd2_handles++;
		return 0;
	case KLC_EV_DIRTY_THROTTLE:
		t->st.dirty_throttles++;
		return 0;
	case KLC_EV_FOLIO_WAIT:
		t->st.folio_waits++;
		return 0;
	case KLC_EV_FILE_NAME:
		return on_file_name(t, rec);
	case KLC_EV_THREAD:
		return on_thread(t, rec);
	case KLC_EV_BATCH:
		return on_batch(t, rec);
	case KLC_EV_LOST:
		on_lost(t, rec);
		return 0;
	default: /* KLC_EV_JBD2_RUN: the commit record says enough */
		return 0;
	}
}

int explain_feed(struct explain *t, const void *data, size_t len)
{
	/* records are 8-byte aligned in the ring, but copy: a test may not be */
	union klc_event rec;
	uint32_t type;

	t->st.records++;
	if (!data || len < sizeof(type))
		goto bad;
	memcpy(&type, data, sizeof(type));
	if (type == KLC_EV_BATCH && len == KLC_BATCH_V4_SIZE) {
		/* ABI 4 (an older dump): no producer identity */
		rec.batch.producer_id = -1;
		rec.batch.base_sequence = -1;
	} else if (!klc_event_size(type) || len != klc_event_size(type)) {
		goto bad;
	}
	memcpy(&rec, data, len);
	if (dispatch(t, type, &rec) == 0)
		return 0;
bad:
	t->st.bad_records++;
	return -EINVAL;
}

/* ---- requests ---- */

static struct topic_id *find_id(const struct explain *t, const char *hex)
{
	for (uint32_t i = 0; i < t->nids; i++)
		if (!strcmp(t->ids[i].hex, hex))
			return &t->ids[i];
	return NULL;
}

int explain_add_topic_id(struct explain *t, const uint8_t id[16], const char *topic)
{
	struct topic_id *e;
	char hex[33];
	size_t n = topic ? strlen(topic) : 0;

	if (!n || n > KLT_TOPIC_NAME_MAX)
		return -EINVAL;
	corr_topic_id_hex(id, hex);
	if (!(e = find_id(t, hex))) {
		if (t->nids == t->ids_cap) {
			uint32_t cap = t->ids_cap ? t->ids_cap * 2 : 16;
			struct topic_id *ids;

			if (t->ids_cap >= EXPLAIN_MAX_TOPIC_IDS)
				return -ENOSPC;
			if (!(ids = realloc(t->ids, cap * sizeof(*ids))))
				return -ENOMEM;
			t->ids = ids;
			t->ids_cap = cap;
		}
		e = &t->ids[t->nids++];
		memcpy(e->hex, hex, sizeof(hex));
		t->st.topic_ids = t->nids;
	}
	memcpy(e->name, topic, n + 1); /* a topic recreated under its name: the newest id */
	return 0;
}

/* Topics named by id get their names where known. */
static void name_topics(struct explain *t, struct corr_topic *topics, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct topic_id *e;

		if (!topics[i].is_id)
			continue;
		if ((e = find_id(t, topics[i].name))) {
			memcpy(topics[i].name, e->name, strlen(e->name) + 1);
			topics[i].is_id = false;
		} else
			t->st.unknown_topic_ids++;
	}
}

int explain_request(struct explain *t, const struct corr_request *r)
{
	struct held *h;

	if (!r || r->api_key != 0 || !r->t_end || r->acks == 0)
		return -EINVAL;
	h = malloc(sizeof(*h));
	if (!h)
		goto oom;
	h->next = NULL;
	h->r = *r;
	h->topics = &h->topic_inline;
	h->parts = h->part_inline;
	if (r->ntopics && r->topics) {
		if (r->ntopics > 1 && !(h->topics = malloc(r->ntopics * sizeof(*h->topics))))
			goto oom;
		memcpy(h->topics, r->topics, r->ntopics * sizeof(*h->topics));
	}
	if (r->nparts && r->parts) {
		if (r->nparts > HELD_INLINE_PARTS &&
		    !(h->parts = malloc(r->nparts * sizeof(*h->parts))))
			goto oom;
		memcpy(h->parts, r->parts, r->nparts * sizeof(*h->parts));
	}
	h->r.topics = r->ntopics && r->topics ? h->topics : NULL;
	h->r.parts = r->nparts && r->parts ? h->parts : NULL;
	if (t->last)
		t->last->next = h;
	else
		t->head = h;
	t->last = h;
	t->nheld++;
	return 0;
oom:
	held_free(h);
	t->st.oom++;
	return -ENOMEM;
}

static void attribute(struct explain *t, struct held *h)
{
	struct attrib_result res;

	/* now, not when the request came: its segment's name (and so its
	 * topic's id) may have been in the cause stream behind it */
	name_topics(t, h->topics, h->r.topics ? h->r.ntopics : 0);

	if (touched_by_loss(t, &h->r)) {
		t->st.lost_touched++;
		attrib_request_lost(t->attrib, &h->r, &res);
	} else {
		attrib_request(t->attrib, &h->r, &res);
	}
	if (bands_add(t->bands, &h->r, &res))
		t->st.oom++;
	if (t->result_fn)
		t->result_fn(&h->r, &res, t->result_ctx);
}

static void pop_one(struct explain *t)
{
	struct held *h = t->head;

	t->head = h->next;
	if (!t->head)
		t->last = NULL;
	t->nheld--;
	attribute(t, h);
	held_free(h);
}

uint32_t explain_advance_n(struct explain *t, uint64_t now_ns, uint32_t max)
{
	uint32_t n = 0;

	for (; n < max && t->head && t->nheld > t->cfg.max_pending; n++) {
		t->st.early++;
		pop_one(t);
	}
	for (; n < max && t->head && t->head->r.t_end + t->cfg.hold_ns <= now_ns; n++)
		pop_one(t);
	return n;
}

void explain_advance(struct explain *t, uint64_t now_ns)
{
	explain_advance_n(t, now_ns, UINT32_MAX);
}

void explain_finish(struct explain *t)
{
	while (t->head)
		pop_one(t);
}

/* ---- stacks out ---- */

void explain_stack_text(const struct explain *t, int32_t stack_id, const char *sep, char *buf,
			size_t len)
{
	const char *f, *end;
	size_t off = 0, seplen = strlen(sep);

	if (!len)
		return;
	buf[0] = '\0';
	if (!(f = frames_of(t, stack_id)))
		return;
	/* stored outermost first: walk it from the end */
	for (end = f + strlen(f); end > f;) {
		const char *start = end;
		size_t l;

		while (start > f && start[-1] != ';')
			start--;
		l = (size_t)(end - start);
		if (off && off + seplen + l + 1 > len)
			break;
		if (off) {
			memcpy(buf + off, sep, seplen);
			off += seplen;
		}
		if (l > len - off - 1)
			l = len - off - 1;
		memcpy(buf + off, start, l);
		off += l;
		end = start > f ? start - 1 : f;
	}
	buf[off] = '\0';
}

static const char *frames_fn(const void *t, int32_t stack_id)
{
	return frames_of(t, stack_id);
}

int explain_write_folded(const struct explain *t, FILE *out)
{
	return folded_write(t->bands, frames_fn, t, out);
}
