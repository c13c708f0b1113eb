// SPDX-License-Identifier: MIT
/*
 * Partition logs laid out like Kafka's: <log-dir>/<topic>-<partition>/
 * <20-digit base offset>.log, appended with one write() per partition and
 * request under the partition mutex (UnifiedLog.lock), entered through the
 * read side of leaderIsrUpdateLock. A sparse 10 MiB .index is mmapped and
 * gets an 8-byte entry every >= 4096 bytes, without a syscall. Segments roll
 * under the mutex; the old segment's fsync runs on the kafka-scheduler thread.
 *
 * Fetches read a segment through its read_fd, opened once per segment and
 * kept for the broker's life (Kafka's FileRecords channel), so a roll or the
 * scheduler closing the writer's fd never pulls a file from under a
 * sendfile. Rolled segments keep their final size and a copy of their index.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "kproto.h"
#include "bytes.h"
#include "slice.h"

/* Opens <dir>/<base>.log and its mmapped .index, as Kafka's roll does. */
static int segment_open(struct partition *p, int64_t base, struct segment *s)
{
	char path[4200];

	memset(s, 0, sizeof(*s));
	s->fd = s->index_fd = s->read_fd = -1;
	s->base_offset = base;
	snprintf(path, sizeof(path), "%s/%020lld.log", p->dir, (long long)base);
	/* FileChannel.open(CREATE, READ, WRITE): no O_APPEND, position tracked by the fd */
	s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->fd < 0)
		goto fail;
	s->read_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->read_fd < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/%020lld.index", p->dir, (long long)base);
	s->index_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->index_fd < 0 || ftruncate(s->index_fd, RB_INDEX_BYTES))
		goto fail;
	s->index = mmap(NULL, RB_INDEX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, s->index_fd, 0);
	if (s->index == MAP_FAILED) {
		s->index = NULL;
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "refbroker: segment %s: %s\n", path, strerror(errno));
	if (s->fd >= 0)
		close(s->fd);
	if (s->index_fd >= 0)
		close(s->index_fd);
	if (s->read_fd >= 0)
		close(s->read_fd);
	s->fd = s->index_fd = s->read_fd = -1;
	return -1;
}

/*
 * Trims the index to its entries (as Kafka does when a segment is finished)
 * and closes the writer's side; read_fd belongs to the partition.
 */
static void segment_close(struct segment *s, bool sync)
{
	if (s->index) {
		if (sync)
			msync(s->index, RB_INDEX_BYTES, MS_SYNC);
		munmap(s->index, RB_INDEX_BYTES);
	}
	if (s->index_fd >= 0) {
		if (ftruncate(s->index_fd, (off_t)s->index_entries * 8))
			fprintf(stderr, "refbroker: index trim: %s\n", strerror(errno));
		close(s->index_fd);
	}
	if (s->fd >= 0) {
		if (sync && fsync(s->fd))
			fprintf(stderr, "refbroker: fsync segment: %s\n", strerror(errno));
		close(s->fd);
	}
	s->index = NULL;
	s->fd = s->index_fd = -1;
}

/* ---- kafka-scheduler: background fsync of rolled segments ---- */

static void *scheduler_main(void *arg)
{
	struct broker *b = arg;
	struct logs *l = &b->logs;

	pthread_setname_np(pthread_self(), "kafka-scheduler");
	pthread_mutex_lock(&l->sched_mu);
	for (;;) {
		struct flush_job *j;

		while (!l->jobs && !l->sched_stop)
			pthread_cond_wait(&l->sched_cv, &l->sched_mu);
		if (!(j = l->jobs))
			break;
		l->jobs = j->next;
		pthread_mutex_unlock(&l->sched_mu);
		segment_close(&j->seg, true);
		/* markFlushed: the scheduler briefly takes the log lock again */
		pthread_mutex_lock(&j->part->lock);
		pthread_mutex_unlock(&j->part->lock);
		free(j);
		pthread_mutex_lock(&l->sched_mu);
	}
	pthread_mutex_unlock(&l->sched_mu);
	return NULL;
}

static void schedule_flush(struct broker *b, struct partition *p, const struct segment *s)
{
	struct flush_job *j = malloc(sizeof(*j));
	struct logs *l = &b->logs;

	if (!j) { /* no memory for the job: flush inline rather than lose the fd */
		struct segment copy = *s;

		segment_close(&copy, true);
		return;
	}
	j->seg = *s;
	j->part = p;
	pthread_mutex_lock(&l->sched_mu);
	j->next = l->jobs;
	l->jobs = j;
	pthread_cond_signal(&l->sched_cv);
	pthread_mutex_unlock(&l->sched_mu);
}

/* ---- topics ---- */

/* Kafka's Uuid.toString(): URL-safe base64 of the 16 bytes, no padding. */
static void uuid_base64(const uint8_t id[16], char out[23])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t bits = 0;
	int nbits = 0, o = 0;

	for (int i = 0; i < 16; i++) {
		bits = bits << 8 | id[i];
		for (nbits += 8; nbits >= 6; nbits -= 6)
			out[o++] = b64[(bits >> (nbits - 6)) & 63];
	}
	out[o++] = b64[(bits << (6 - nbits)) & 63];
	out[o] = '\0';
}

/* <partition dir>/partition.metadata, as Kafka writes it (PartitionMetadataFile). */
static int write_partition_metadata(const struct topic *t, const struct partition *p)
{
	char path[sizeof(p->dir) + 32], id[23];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/partition.metadata", p->dir);
	uuid_base64(t->id, id);
	if (!(f = fopen(path, "w"))) {
		fprintf(stderr, "refbroker: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "version: 0\ntopic_id: %s\n", id);
	err = ferror(f);
	if (fclose(f) || err) {
		fprintf(stderr, "refbroker: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

static int partition_init(struct broker *b, struct topic *t, uint32_t i)
{
	struct partition *p = &t->parts[i];

	p->index = (int32_t)i;
	p->topic = t;
	snprintf(p->dir, sizeof(p->dir), "%s/%s-%u", b->o.log_dir, t->name, i);
	if (mkdir(p->dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "refbroker: mkdir %s: %s\n", p->dir, strerror(errno));
		return -1;
	}
	if (write_partition_metadata(t, p))
		return -1;
	if (segment_open(p, 0, &p->seg))
		return -1;
	pthread_rwlock_init(&p->leader_isr, NULL);
	pthread_mutex_init(&p->lock, NULL);
	replica_partition_init(b, p);
	return 0;
}

static void topic_free(struct topic *t)
{
	for (uint32_t i = 0; t && t->parts && i < t->nparts; i++) {
		struct partition *p = &t->parts[i];

		if (p->seg.read_fd >= 0)
			close(p->seg.read_fd);
		for (size_t k = 0; k < p->nrolled; k++) {
			close(p->rolled[k].fd);
			free(p->rolled[k].index);
		}
		free(p->rolled);
		segment_close(&t->parts[i].seg, false);
		pthread_rwlock_destroy(&t->parts[i].leader_isr);
		pthread_mutex_destroy(&t->parts[i].lock);
		free(t->parts[i].pids);
		replica_partition_free(&t->parts[i]);
	}
	if (t)
		free(t->parts);
	free(t);
}

static struct topic *topic_create(struct broker *b, const char *name, size_t len)
{
	struct topic *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	memcpy(t->name, name, len);
	if (getrandom(t->id, sizeof(t->id), 0) != (ssize_t)sizeof(t->id)) {
		free(t);
		return NULL;
	}
	t->parts = calloc(b->o.partitions, sizeof(*t->parts));
	if (!t->parts) {
		free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < b->o.partitions; i++) {
		if (partition_init(b, t, i)) {
			t->nparts = i;
			topic_free(t);
			return NULL;
		}
		t->nparts = i + 1;
	}
	return t;
}

static struct topic *find(struct logs *l, const char *name, size_t len)
{
	for (size_t i = 0; i < l->ntopics; i++)
		if (strlen(l->topics[i]->name) == len && !memcmp(l->topics[i]->name, name, len))
			return l->topics[i];
	return NULL;
}

static struct topic *add_topic(struct broker *b, const char *name, size_t len)
{
	struct logs *l = &b->logs;
	struct topic *t;

	if (l->ntopics == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct topic **nt = realloc(l->topics, cap * sizeof(*nt));

		if (!nt)
			return NULL;
		l->topics = nt;
		l->cap = cap;
	}
	if (!(t = topic_create(b, name, len)))
		return NULL;
	l->topics[l->ntopics++] = t;
	return t;
}

struct topic *logs_topic(struct broker *b, const char *name, size_t len, bool create)
{
	struct logs *l = &b->logs;
	struct topic *t;
	bool created = false;

	if (len == 0 || len > RB_MAX_TOPIC_LEN)
		return NULL;
	pthread_rwlock_rdlock(&l->mu);
	t = find(l, name, len);
	pthread_rwlock_unlock(&l->mu);
	if (t || !create)
		return t;
	pthread_rwlock_wrlock(&l->mu);
	if (!(t = find(l, name, len)) && (t = add_topic(b, name, len)))
		created = true;
	pthread_rwlock_unlock(&l->mu);
	if (created)
		fetchers_wake(b); /* followers fetch the new partitions at once */
	return t;
}

struct topic *logs_topic_by_id(struct broker *b, const uint8_t id[16])
{
	struct logs *l = &b->logs;
	struct topic *t = NULL;

	pthread_rwlock_rdlock(&l->mu);
	for (size_t i = 0; i < l->ntopics && !t; i++)
		if (!memcmp(l->topics[i]->id, id, 16))
			t = l->topics[i];
	pthread_rwlock_unlock(&l->mu);
	return t;
}

void logs_each(struct broker *b, void (*fn)(struct topic *, void *), void *arg)
{
	pthread_rwlock_rdlock(&b->logs.mu);
	for (size_t i = 0; i < b->logs.ntopics; i++)
		fn(b->logs.topics[i], arg);
	pthread_rwlock_unlock(&b->logs.mu);
}

int logs_init(struct broker *b)
{
	struct logs *l = &b->logs;

	memset(l, 0, sizeof(*l));
	pthread_rwlock_init(&l->mu, NULL);
	pthread_mutex_init(&l->sched_mu, NULL);
	pthread_cond_init(&l->sched_cv, NULL);
	if (pthread_create(&l->sched, NULL, scheduler_main, b)) {
		fprintf(stderr, "refbroker: cannot start the scheduler thread\n");
		return -1;
	}
	return 0;
}

void logs_destroy(struct broker *b)
{
	struct logs *l = &b->logs;

	pthread_mutex_lock(&l->sched_mu);
	l->sched_stop = true;
	pthread_cond_signal(&l->sched_cv);
	pthread_mutex_unlock(&l->sched_mu);
	pthread_join(l->sched, NULL);
	for (size_t i = 0; i < l->ntopics; i++)
		topic_free(l->topics[i]);
	free(l->topics);
	pthread_rwlock_destroy(&l->mu);
	pthread_mutex_destroy(&l->sched_mu);
	pthread_cond_destroy(&l->sched_cv);
}

/* ---- append ---- */

/*
 * Checks every batch of a records field: magic 2, length inside the field,
 * CRC-32C over attributes..end. Done before the log lock, as Kafka validates
 * in analyzeAndValidateRecords. Counts records and batches.
 */
/* The producer fields of a produce's batches (all of them one producer's). */
struct batch_ids {
	int64_t pid; /* -1: not idempotent */
	int16_t epoch;
	int32_t first_seq, last_seq;
	bool mixed; /* batches of several producers, or sequences not contiguous */
};

/* Offsets in the RecordBatch v2 header. */
#define BATCH_PRODUCER_ID    43
#define BATCH_PRODUCER_EPOCH 51
#define BATCH_BASE_SEQUENCE  53

static int32_t seq_add(int32_t seq, uint32_t n)
{
	/* sequences wrap from INT32_MAX to 0, as Kafka's DefaultRecordBatch */
	return (int32_t)(((uint64_t)seq + n) % ((uint64_t)INT32_MAX + 1));
}

static void batch_ids_add(struct batch_ids *ids, const uint8_t *h, bool first)
{
	int64_t pid = get_be64(h + BATCH_PRODUCER_ID);
	int16_t epoch = (int16_t)((h[BATCH_PRODUCER_EPOCH] << 8) | h[BATCH_PRODUCER_EPOCH + 1]);
	int32_t seq = (int32_t)get_be32(h + BATCH_BASE_SEQUENCE);
	uint32_t count = get_be32(h + KPROTO_BATCH_RECORDS_COUNT);

	if (first) {
		ids->pid = pid;
		ids->epoch = epoch;
		ids->first_seq = seq;
	} else if (pid != ids->pid || epoch != ids->epoch ||
		   (pid >= 0 && seq != seq_add(ids->last_seq, 1))) {
		ids->mixed = true;
	}
	if (pid >= 0 && (seq < 0 || count == 0))
		ids->mixed = true;
	ids->last_seq = count ? seq_add(seq, count - 1) : seq;
}

static int16_t validate(const uint8_t *rec, size_t len, uint32_t *records, struct batch_ids *ids)
{
	size_t off = 0;

	*records = 0;
	memset(ids, 0, sizeof(*ids));
	ids->pid = -1;
	if (len == 0)
		return KERR_CORRUPT_MESSAGE;
	while (off < len) {
		const uint8_t *h = rec + off;
		uint32_t blen;

		if (len - off < KPROTO_BATCH_HEADER_LEN)
			return KERR_CORRUPT_MESSAGE;
		blen = get_be32(h + 8); /* batchLength: bytes after this field */
		if (blen < KPROTO_BATCH_HEADER_LEN - 12 || blen > len - off - 12 || h[16] != 2)
			return KERR_CORRUPT_MESSAGE;
		/* crc at 17 covers attributes (21) to the end of the batch */
		if (crc32c(h + 21, blen - 9) != get_be32(h + 17))
			return KERR_CORRUPT_MESSAGE;
		*records += get_be32(h + KPROTO_BATCH_RECORDS_COUNT);
		batch_ids_add(ids, h, off == 0);
		off += 12 + (size_t)blen;
	}
	return KERR_NONE;
}

/* Keeps what fetches need of the segment being rolled (its index copied). */
static int keep_rolled(struct partition *p, const struct segment *s)
{
	struct rolled_segment *r;

	if (p->nrolled == p->cap_rolled) {
		size_t cap = p->cap_rolled ? p->cap_rolled * 2 : 8;

		if (!(r = realloc(p->rolled, cap * sizeof(*r))))
			return -1;
		p->rolled = r;
		p->cap_rolled = cap;
	}
	r = &p->rolled[p->nrolled];
	r->base_offset = s->base_offset;
	r->size = s->size;
	r->fd = s->read_fd;
	r->index_entries = s->index_entries;
	if (!(r->index = malloc((size_t)s->index_entries * 8 + 1)))
		return -1;
	memcpy(r->index, s->index, (size_t)s->index_entries * 8);
	p->nrolled++;
	return 0;
}

/* Rolls when this append would push the active segment past --segment-bytes. */
static int maybe_roll(struct broker *b, struct partition *p, size_t len)
{
	struct segment next;

	if (p->seg.size == 0 || p->seg.size + len <= b->o.segment_bytes)
		return 0;
	if (segment_open(p, p->next_offset, &next))
		return -1;
	if (keep_rolled(p, &p->seg)) {
		segment_close(&next, false);
		close(next.read_fd);
		return -1;
	}
	schedule_flush(b, p, &p->seg);
	p->seg = next;
	return 0;
}

/* Kafka's RecordBatch.lastOffset(): baseOffset + lastOffsetDelta. */
static int64_t batch_last_offset(const uint8_t *h)
{
	int64_t base = get_be64(h);

	return base + (int64_t)get_be32(h + 23);
}

/* Assigns offsets: baseOffset (outside the CRC) of each batch is patched. */
static void assign_offsets(struct partition *p, uint8_t *rec, size_t len)
{
	size_t off = 0;

	while (off < len) {
		uint32_t blen = get_be32(rec + off + 8);
		uint32_t lastDelta = get_be32(rec + off + 23);

		put_be64(rec + off, (uint64_t)p->next_offset);
		p->next_offset += (int64_t)lastDelta + 1;
		off += 12 + (size_t)blen;
	}
}

static void index_entry(struct segment *s, int64_t offset, uint64_t pos)
{
	if (s->bytes_since_index < RB_INDEX_INTERVAL)
		return;
	if ((uint64_t)s->index_entries * 8 + 8 <= RB_INDEX_BYTES) {
		uint8_t *e = s->index + (size_t)s->index_entries * 8;

		put_be32(e, (uint32_t)(offset - s->base_offset));
		put_be32(e + 4, (uint32_t)pos);
		s->index_entries++;
	}
	s->bytes_since_index = 0;
}

/*
 * The part under UnifiedLog.lock: roll, offsets, one write(), index, flush
 * policy. A leader assigns the offsets; a follower (next_offset >= 0) keeps
 * the leader's and moves its log end to next_offset.
 */
static int16_t append_locked(struct broker *b, struct partition *p, uint8_t *rec, size_t len,
			     struct rb_part_truth *pt, int64_t next_offset)
{
	struct segment *s;
	uint64_t pos;
	bool sync = false;

	if (maybe_roll(b, p, len))
		return KERR_UNKNOWN_SERVER;
	s = &p->seg;
	pt->base_offset = p->next_offset;
	pos = s->size;
	index_entry(s, p->next_offset, pos);
	if (next_offset < 0)
		assign_offsets(p, rec, len);
	else
		p->next_offset = next_offset;
	pt->last_offset = p->next_offset - 1;
	pt->append_start_ns = now_ns();
	if (write_all(s->fd, rec, len)) {
		fprintf(stderr, "refbroker: write %s: %s\n", p->dir, strerror(errno));
		pt->append_end_ns = now_ns();
		return KERR_UNKNOWN_SERVER;
	}
	s->size += len;
	s->bytes_since_index += len;
	__atomic_store_n(&p->leo, p->next_offset, __ATOMIC_RELEASE);
	if (!rb_cluster(b))
		partition_set_hw(p, p->next_offset); /* no followers: HW follows LEO */
	p->appends++;
	p->msgs_since_flush += pt->records;
	if (b->o.flush_messages && p->msgs_since_flush >= b->o.flush_messages) {
		sync = true;
		pt->inject |= RB_INJ_FLUSH;
	}
	if (b->o.fsync_every && every_nth(&b->fsync_count, b->o.fsync_every)) {
		sync = true;
		pt->inject |= RB_INJ_FSYNC;
	}
	if (sync) {
		fsync(s->fd);
		p->msgs_since_flush = 0;
	}
	if (every_nth(&b->lock_hold_count, b->o.lock_hold.every)) {
		sleep_ms(b->o.lock_hold.ms); /* stands for a slow write() under the lock */
		pt->inject |= RB_INJ_LOCK_HOLD;
	}
	if (every_nth(&b->inject_count[RB_PH_APPEND], b->o.sleep[RB_PH_APPEND].every)) {
		sleep_ms(b->o.sleep[RB_PH_APPEND].ms);
		pt->inject |= RB_INJ_SLEEP_APPEND;
	}
	pt->append_end_ns = now_ns();
	return KERR_NONE;
}

/* The producer's state in p (created at epoch -1 when new); NULL when out of memory. */
static struct rb_pid_state *pid_state(struct partition *p, int64_t pid)
{
	struct rb_pid_state *s;

	for (size_t i = 0; i < p->npids; i++)
		if (p->pids[i].pid == pid)
			return &p->pids[i];
	if (p->npids == p->cap_pids) {
		size_t cap = p->cap_pids ? p->cap_pids * 2 : 4;

		if (!(s = realloc(p->pids, cap * sizeof(*s))))
			return NULL;
		p->pids = s;
		p->cap_pids = cap;
	}
	s = &p->pids[p->npids++];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->epoch = -1;
	return s;
}

/*
 * Kafka's sequence check, under the partition lock: a new producer or epoch
 * starts at sequence 0; a batch that repeats one of the last RB_PID_BATCHES
 * is a retry (*dup set, its first offset in *base); anything but the next
 * sequence is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced.
 */
static int16_t check_sequence(struct partition *p, const struct batch_ids *ids,
			      struct rb_pid_state **out, bool *dup, int64_t *base)
{
	struct rb_pid_state *s;

	*dup = false;
	if (!(s = pid_state(p, ids->pid)))
		return KERR_UNKNOWN_SERVER;
	*out = s;
	if (ids->epoch < s->epoch)
		return KERR_INVALID_PRODUCER_EPOCH;
	if (ids->mixed)
		return KERR_OUT_OF_ORDER_SEQUENCE;
	if (ids->epoch > s->epoch) {
		if (ids->first_seq != 0)
			return KERR_OUT_OF_ORDER_SEQUENCE;
		s->epoch = ids->epoch;
		s->next_seq = 0;
		s->nbatches = 0;
		return KERR_NONE;
	}
	for (uint32_t i = 0; i < s->nbatches; i++) {
		const struct rb_pid_batch *pb = &s->batch[i];

		if (pb->first_seq == ids->first_seq && pb->last_seq == ids->last_seq) {
			*dup = true;
			*base = pb->base_offset;
			return KERR_NONE;
		}
	}
	return ids->first_seq == s->next_seq ? KERR_NONE : KERR_OUT_OF_ORDER_SEQUENCE;
}

static void record_sequence(struct rb_pid_state *s, const struct batch_ids *ids, int64_t base)
{
	s->batch[s->head] = (struct rb_pid_batch){ids->first_seq, ids->last_seq, base};
	s->head = (s->head + 1) % RB_PID_BATCHES;
	if (s->nbatches < RB_PID_BATCHES)
		s->nbatches++;
	s->next_seq = seq_add(ids->last_seq, 1);
}

/* Sequence check (idempotent producers), then the append, under the partition lock. */
static int16_t append_checked(struct broker *b, struct partition *p, uint8_t *rec, size_t len,
			      const struct batch_ids *ids, struct rb_part_truth *pt)
{
	struct rb_pid_state *s = NULL;
	bool dup = false;
	int64_t base = -1;
	int16_t err;

	if (ids->pid >= 0) {
		if ((err = check_sequence(p, ids, &s, &dup, &base)))
			return err;
		if (dup) {
			pt->base_offset = base;
			pt->duplicate = true;
			pt->append_start_ns = pt->append_end_ns = now_ns();
			return KERR_NONE;
		}
	}
	err = append_locked(b, p, rec, len, pt, -1);
	if (!err && s)
		record_sequence(s, ids, pt->base_offset);
	return err;
}

int16_t logs_append(struct broker *b, struct partition *p, uint8_t *rec, size_t len,
		    struct request *r, uint32_t part)
{
	struct rb_part_truth *pt = &r->parts[part];
	struct batch_ids ids;
	int16_t err;

	pt->bytes = (uint32_t)len;
	pt->base_offset = -1;
	pthread_rwlock_rdlock(&p->leader_isr);
	err = validate(rec, len, &pt->records, &ids);
	if (!err) {
		pthread_mutex_lock(&p->lock);
		pt->lock_ns = now_ns();
		err = append_checked(b, p, rec, len, &ids, pt);
		if (pt->duplicate)
			pt->last_offset = pt->base_offset + (pt->records ? pt->records - 1 : 0);
		/* before the log end is visible to fetches: no fetch can pass it unseen */
		if (!err && rb_cluster(b))
			replica_on_append(b, p, r, part);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_rwlock_unlock(&p->leader_isr);
	/* as Kafka's tryCompleteDelayedRequests, after the locks are released */
	if (!err && !pt->duplicate)
		fetch_purgatory_wake(b, p);
	return err;
}

/*
 * Batch headers of fetched records: [*skip, *keep) is what lies at or past
 * from, whole batches only, and *next the offset after them. Only headers are
 * checked (magic, lengths): the leader checked the CRCs.
 */
static int follower_batches(const uint8_t *rec, size_t len, int64_t from, size_t *skip,
			    size_t *keep, int64_t *next, uint32_t *records)
{
	size_t off = 0;

	*skip = *keep = 0;
	*next = from;
	*records = 0;
	while (len - off >= KPROTO_BATCH_HEADER_LEN) {
		const uint8_t *h = rec + off;
		uint32_t blen = get_be32(h + 8);
		int64_t base = get_be64(h);

		if (blen < KPROTO_BATCH_HEADER_LEN - 12 || h[16] != 2)
			return -1;
		if (blen > len - off - 12)
			break; /* a partial batch at the end of a fetch response */
		if (batch_last_offset(h) < from) {
			*skip = off + 12 + blen;
		} else {
			if (base != *next)
				return -1; /* a gap: not the leader's log */
			*next = batch_last_offset(h) + 1;
			*records += get_be32(h + KPROTO_BATCH_RECORDS_COUNT);
		}
		off += 12 + (size_t)blen;
	}
	*keep = off;
	return 0;
}

int logs_append_follower(struct broker *b, struct partition *p, const uint8_t *rec, size_t len)
{
	struct rb_part_truth pt = {0};
	size_t skip, keep;
	int64_t next;
	int16_t err = KERR_NONE;

	pthread_rwlock_rdlock(&p->leader_isr);
	pthread_mutex_lock(&p->lock);
	if (follower_batches(rec, len, p->next_offset, &skip, &keep, &next, &pt.records)) {
		pthread_mutex_unlock(&p->lock);
		pthread_rwlock_unlock(&p->leader_isr);
		return -1;
	}
	if (keep > skip)
		err =
		    append_locked(b, p, (uint8_t *)(uintptr_t)(rec + skip), keep - skip, &pt, next);
	pthread_mutex_unlock(&p->lock);
	pthread_rwlock_unlock(&p->leader_isr);
	return err ? -1 : 0;
}

/* ---- offsets and reads for Fetch and ListOffsets ---- */

int64_t partition_hw(const struct partition *p)
{
	return __atomic_load_n(&p->hw, __ATOMIC_ACQUIRE);
}

int64_t partition_leo(const struct partition *p)
{
	return __atomic_load_n(&p->leo, __ATOMIC_ACQUIRE);
}

void partition_set_hw(struct partition *p, int64_t hw)
{
	__atomic_store_n(&p->hw, hw, __ATOMIC_RELEASE);
}

int64_t partition_log_start(const struct partition *p)
{
	(void)p;
	return 0; /* no retention: the log starts at offset 0 */
}

static int pread_all(void *ctx, uint8_t *buf, size_t n, uint64_t off)
{
	int fd = *(const int *)ctx;

	while (n) {
		ssize_t k = pread(fd, buf, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		buf += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/*
 * Under the lock: the segment holding offset (the last one whose base is
 * <= offset), its size, and the index position to scan from.
 */
static void locate_locked(const struct partition *p, int64_t offset, int *fd, struct slice_query *q)
{
	const struct segment *s = &p->seg;
	size_t lo = 0, hi = p->nrolled;

	if (offset >= s->base_offset || !p->nrolled) {
		*fd = s->read_fd;
		q->end_pos = s->size;
		q->start_pos =
		    slice_index_lookup(s->index, s->index_entries, s->base_offset, offset);
		return;
	}
	while (hi - lo > 1) { /* rolled[lo].base <= offset < rolled[hi].base */
		size_t mid = lo + (hi - lo) / 2;

		if (p->rolled[mid].base_offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	*fd = p->rolled[lo].fd;
	q->end_pos = p->rolled[lo].size;
	q->start_pos = slice_index_lookup(p->rolled[lo].index, p->rolled[lo].index_entries,
					  p->rolled[lo].base_offset, offset);
}

int16_t logs_read(struct partition *p, int64_t offset, bool follower, uint64_t max_bytes,
		  bool min_one, struct log_slice *out)
{
	struct slice_query q = {.offset = offset, .max_bytes = max_bytes, .min_one = min_one};
	int64_t leo;
	int fd;

	out->fd = -1;
	out->pos = out->len = 0;
	pthread_mutex_lock(&p->lock);
	leo = partition_leo(p);
	q.limit = follower ? leo : partition_hw(p);
	if (offset < partition_log_start(p) || offset > leo) {
		pthread_mutex_unlock(&p->lock);
		return KERR_OFFSET_OUT_OF_RANGE;
	}
	if (offset >= q.limit) {
		pthread_mutex_unlock(&p->lock);
		return KERR_NONE;
	}
	locate_locked(p, offset, &fd, &q);
	pthread_mutex_unlock(&p->lock);
	/* below the size seen under the lock the file no longer changes */
	if (slice_scan(pread_all, &fd, &q, &out->pos, &out->len)) {
		fprintf(stderr, "refbroker: %s: unreadable batch header near offset %lld\n", p->dir,
			(long long)offset);
		return KERR_UNKNOWN_SERVER;
	}
	out->fd = fd;
	return KERR_NONE;
}

uint64_t logs_readable(struct partition *p, int64_t offset, bool follower, uint64_t want)
{
	struct log_slice sl;

	if (logs_read(p, offset, follower, want, true, &sl))
		return 0;
	return sl.len;
}
