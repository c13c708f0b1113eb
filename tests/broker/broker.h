/* SPDX-License-Identifier: MIT */
/*
 * refbroker: a small Kafka broker that reproduces the produce path of Apache
 * Kafka (threads, queues, locks, syscalls) for kafkalat's tests and demo.
 * See tests/broker/README.md and ../shared/KAFKA-PRODUCE-PATH.md.
 *
 * Thread model (names as in `ps -L`):
 *   kafka-acceptor    accept(), hands sockets round-robin to network threads
 *   kafka-network-N   epoll + eventfd; reads frames, writes responses
 *   kafka-handler-N   take requests from the one shared bounded queue
 *   kafka-scheduler   fsyncs rolled segments off the request path
 *   kafka-purgatory   holds acks=all responses for --replica-delay-ms
 *   kafka-fetch-exp   expires delayed fetches (long poll) at their max wait
 *   kafka-truth       writes the ground-truth file
 *   kafka-cpu-hog     --cpu-hog only
 * and with --cluster (replica.c, fetcher.c):
 *   kafka-repl-L-N    replica fetcher N following the partitions led by broker L
 *   kafka-isr-check   shrinks ISRs every --replica-lag-time-ms / 2
 *   kafka-reaper      answers acks=all requests not replicated in time
 *
 * One struct request travels network -> queue -> handler -> (purgatory) ->
 * network, carrying the frame, the response and the ground-truth stamps.
 */
#ifndef REFBROKER_BROKER_H
#define REFBROKER_BROKER_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "isr.h"

/* Kafka's defaults: queued.max.requests, socket buffer, max frame size. */
#define RB_QUEUE_CAP	  500
#define RB_SOCK_BUF	  (100 * 1024)
#define RB_MAX_FRAME	  (100 * 1024 * 1024)
#define RB_POLL_MS	  300
#define RB_CHUNK	  (64 * 1024)
#define RB_INDEX_BYTES	  (10 * 1024 * 1024)
#define RB_INDEX_INTERVAL 4096
#define RB_MAX_TOPIC_LEN  249
#define RB_MAX_INJECT	  4
#define RB_MAX_BROKERS	  16
#define RB_MAX_REPLICAS	  8

/* Kafka error codes we answer with. */
#define KERR_UNKNOWN_SERVER	     (-1)
#define KERR_NONE		     0
#define KERR_OFFSET_OUT_OF_RANGE     1
#define KERR_CORRUPT_MESSAGE	     2
#define KERR_UNKNOWN_TOPIC_OR_PART   3
#define KERR_NOT_LEADER		     6
#define KERR_REQUEST_TIMED_OUT	     7
#define KERR_INVALID_TOPIC	     17
#define KERR_NOT_ENOUGH_REPLICAS     19
#define KERR_UNSUPPORTED_VERSION     35
#define KERR_OUT_OF_ORDER_SEQUENCE   45
#define KERR_INVALID_PRODUCER_EPOCH  47
#define KERR_FETCH_SESSION_NOT_FOUND 70

enum rb_io { RB_IO_JVM, RB_IO_CHUNKED };
enum rb_phase { RB_PH_READ, RB_PH_QUEUE, RB_PH_APPEND, RB_PH_RESPOND, RB_PH_N };

/* Faults injected into a request or an append, named in the ground truth. */
enum rb_inject {
	RB_INJ_SLEEP_READ = 1u << RB_PH_READ,
	RB_INJ_SLEEP_QUEUE = 1u << RB_PH_QUEUE,
	RB_INJ_SLEEP_APPEND = 1u << RB_PH_APPEND,
	RB_INJ_SLEEP_RESPOND = 1u << RB_PH_RESPOND,
	RB_INJ_LOCK_HOLD = 1u << 4,
	RB_INJ_FSYNC = 1u << 5,
	RB_INJ_FLUSH = 1u << 6, /* --flush-messages, not a fault but worth seeing */
};

struct rb_every {
	uint32_t ms, every; /* every == 0: off */
};

/* One broker of --cluster. */
struct rb_node {
	int32_t id;
	char host[64];
	uint16_t port;
};

struct rb_opts {
	uint16_t port;
	/* --cluster: nodes sorted by id; nnodes 0 = the single broker */
	int32_t broker_id;
	struct rb_node nodes[RB_MAX_BROKERS];
	uint32_t nnodes, self; /* self: own index in nodes */
	uint32_t replication_factor, min_isr;
	uint32_t replica_lag_ms, replica_fetch_wait_ms, num_replica_fetchers;
	const char *log_dir;
	uint32_t partitions, handlers, net_threads;
	enum rb_io io;
	const char *truth;
	uint64_t segment_bytes;
	uint64_t flush_messages;
	uint32_t replica_delay_ms;
	struct rb_every lock_hold;
	uint32_t fsync_every;
	struct rb_every sleep[RB_PH_N];
	bool cpu_hog;
};

/* 0 = run, 1 = help printed (exit 0), 2 = usage error (message printed). */
int opts_parse(struct rb_opts *o, int argc, char **argv);

/* ---- ground truth of one partition of a produce request ---- */
struct rb_part_truth {
	char topic[RB_MAX_TOPIC_LEN + 1];
	int32_t partition;
	int16_t error;
	uint32_t bytes, records;
	int64_t base_offset;
	uint64_t lock_ns, append_start_ns, append_end_ns;
	unsigned inject; /* enum rb_inject bits */
	bool duplicate;	 /* idempotent retry: answered, not appended */
	/* acks=all in a cluster (replica.c): the followers in the ISR at append */
	bool repl;
	int64_t last_offset;
	uint32_t nfollow;
	int32_t follow_id[RB_MAX_REPLICAS];
	uint64_t covered_ns[RB_MAX_REPLICAS]; /* first fetch past last_offset */
	uint64_t hw_ns;			      /* high watermark passed last_offset */
	size_t err_off;			      /* its error code in the response */
	struct partition *log;		      /* where it was appended */
};

/*
 * A piece of a response: bytes of r->resp (fd < 0) or a byte range of a
 * segment file, sent with sendfile (Kafka's FileRecords.writeTo).
 */
struct rb_span {
	int fd;
	uint64_t off, len;
};

struct fetch_req;

/* What a handler tells the network thread to do with a request's connection. */
enum rb_action { RB_RESPOND, RB_NO_RESPONSE, RB_CLOSE };

struct request {
	struct request *next;
	/* connection: owning network thread, slot and generation */
	uint32_t net, slot;
	uint64_t gen, seq;
	char client[64];
	uint8_t *buf; /* frame without its size */
	size_t len;
	/* filled by the handler */
	int16_t api_key, api_version, acks; /* acks -2: not a produce */
	int32_t corr;
	int handler_tid;
	enum rb_action action;
	uint8_t *resp; /* size + header + body, one buffer */
	size_t resp_len, resp_hdr_len, resp_off;
	struct rb_part_truth *parts;
	size_t nparts;
	unsigned inject; /* enum rb_inject bits */
	uint64_t t_first, t_read, t_dequeue, t_resp_enqueue, t_resp, t_end;
	uint64_t t_due; /* purgatory deadline */
	/* acks=all in a cluster, under the replication mutex (replica.c) */
	int32_t timeout_ms;
	uint32_t repl_wait; /* partitions below the HW, + 1 while in the handler */
	int32_t released_by;
	uint64_t t_released;
	struct request *pprev, *pnext; /* produce purgatory, for timeouts */
	/* a response with file pieces (Fetch): sent span by span, else resp as one */
	struct rb_span *spans;
	size_t nspans, span_i;
	uint64_t span_done;
	struct fetch_req *fetch; /* Fetch only: parsed request, results, times */
};

void request_free(struct request *r);
/* write() until all of p is written (EINTR retried); -1 on an error. */
int write_all(int fd, const uint8_t *p, size_t len);
uint64_t now_ns(void);
void sleep_ms(uint32_t ms);

/* ---- the one shared bounded request queue (RequestChannel) ---- */
struct rqueue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct request *head, *tail;
	size_t n, cap;
	bool closed;
};

int rqueue_init(struct rqueue *q, size_t cap);
void rqueue_destroy(struct rqueue *q);
/* Blocks while full, like ArrayBlockingQueue.put; false once closed. */
bool rqueue_put(struct rqueue *q, struct request *r);
/* Waits up to ms; NULL on timeout or when closed and empty. */
struct request *rqueue_poll(struct rqueue *q, uint32_t ms);
void rqueue_close(struct rqueue *q);

/* ---- partitions and their logs ---- */
struct segment {
	int fd;
	int read_fd; /* open for the broker's life: fetches sendfile from it */
	int64_t base_offset;
	uint64_t size;
	uint8_t *index; /* mmapped .index, RB_INDEX_BYTES */
	int index_fd;
	uint32_t index_entries;
	uint64_t bytes_since_index;
};

/*
 * Idempotent producers (ProducerStateManager): per producer id and partition,
 * the next expected base sequence and the last RB_PID_BATCHES batches, so that
 * a retried batch is answered with its first offset instead of appended again.
 */
#define RB_PID_BATCHES	 5
#define RB_PRODUCER_ID_0 1000
/* Each broker of a cluster hands out ids from its own block, as Kafka's
 * ProducerIdManager does with blocks from the controller: two producers that
 * ask different brokers must not share an id (their sequences would clash on
 * a leader as OUT_OF_ORDER_SEQUENCE_NUMBER). */
#define RB_PRODUCER_ID_BLOCK 1000000000LL

struct rb_pid_batch {
	int32_t first_seq, last_seq;
	int64_t base_offset;
};

struct rb_pid_state {
	int64_t pid;
	int16_t epoch;
	int32_t next_seq;
	uint32_t nbatches, head; /* ring of the last batches; head: next slot */
	struct rb_pid_batch batch[RB_PID_BATCHES];
};

/* A rolled segment as fetches see it: final size, its own fd, a copy of its index. */
struct rolled_segment {
	int64_t base_offset;
	uint64_t size;
	int fd;
	uint8_t *index; /* index_entries 8-byte entries, as in the .index file */
	uint32_t index_entries;
};

/* An acks=all partition waiting for the high watermark. */
struct repl_wait {
	struct request *r;
	uint32_t part; /* index in r->parts */
	int64_t last_offset;
};

/* Replication state of a partition, under the broker's replication mutex. */
struct repl_part {
	int32_t leader;
	uint32_t nreplicas;
	int32_t replicas[RB_MAX_REPLICAS];
	struct follower f[RB_MAX_REPLICAS]; /* leader: the other replicas */
	uint32_t nf;
	int64_t leader_leo;	/* the HW is partition_hw() */
	struct repl_wait *wait; /* ring-less FIFO: [whead, nwait) in offset order */
	size_t whead, nwait, capwait;
};

struct partition {
	pthread_rwlock_t leader_isr; /* leaderIsrUpdateLock: read side per append */
	pthread_mutex_t lock;	     /* UnifiedLog.lock: held across the append */
	char dir[4096];
	int32_t index;
	struct segment seg;
	int64_t next_offset;
	uint64_t msgs_since_flush;
	uint64_t appends;
	struct rb_pid_state *pids; /* under lock */
	size_t npids, cap_pids;
	struct rolled_segment *rolled; /* under lock, oldest first */
	size_t nrolled, cap_rolled;
	/* read without the lock (Kafka's volatile offsets): partition_hw() etc. */
	int64_t hw, leo;
	struct topic *topic;
	struct repl_part repl;
};

struct topic {
	char name[RB_MAX_TOPIC_LEN + 1];
	uint8_t id[16]; /* random, as Kafka's; in each partition.metadata */
	uint32_t nparts;
	struct partition *parts;
};

/* A rolled segment waiting for its fsync on the scheduler thread. */
struct flush_job {
	struct flush_job *next;
	struct segment seg;
	struct partition *part;
};

struct logs {
	pthread_rwlock_t mu; /* the topic table */
	struct topic **topics;
	size_t ntopics, cap;
	pthread_mutex_t sched_mu;
	pthread_cond_t sched_cv;
	struct flush_job *jobs;
	bool sched_stop;
	pthread_t sched;
};

struct broker;
int logs_init(struct broker *b);
void logs_destroy(struct broker *b);
/* Finds a topic, creating it with --partitions when create is set; NULL if absent/failed.
 */
struct topic *logs_topic(struct broker *b, const char *name, size_t len, bool create);
/* Finds a topic by its id (Produce v13); NULL if none has it. */
struct topic *logs_topic_by_id(struct broker *b, const uint8_t id[16]);
/* Visits every topic under the table's read lock. */
void logs_each(struct broker *b, void (*fn)(struct topic *, void *), void *arg);
/*
 * Appends one partition's records (writable: base offsets are patched) under
 * the partition's locks, filling pt's offsets and times. Returns a Kafka error.
 */
int16_t logs_append(struct broker *b, struct partition *p, uint8_t *rec, size_t len,
		    struct request *r, uint32_t part);
/*
 * A follower's append of records fetched from the leader (appendAsFollower):
 * the leader's offsets are kept; batches below the log end are skipped and a
 * partial last batch dropped. Returns 0 or -1 (bad batches, I/O error).
 */
int logs_append_follower(struct broker *b, struct partition *p, const uint8_t *rec, size_t len);

/*
 * High watermark and log end offset. Without replication HW follows LEO
 * after each append; the replication module moves HW from follower fetches
 * and then calls fetch_purgatory_wake().
 */
int64_t partition_hw(const struct partition *p);
int64_t partition_leo(const struct partition *p);
void partition_set_hw(struct partition *p, int64_t hw);
int64_t partition_log_start(const struct partition *p);

/* Where a fetch's records are: a byte range of one segment file. */
struct log_slice {
	int fd;
	uint64_t pos, len;
};

/*
 * Finds the whole batches of p from the one containing offset, up to
 * max_bytes (at least one batch when min_one), below limit (HW for
 * consumers, LEO for followers), in one segment. Reads batch headers only.
 * Returns a Kafka error (OFFSET_OUT_OF_RANGE outside [log start, LEO]).
 */
int16_t logs_read(struct partition *p, int64_t offset, bool follower, uint64_t max_bytes,
		  bool min_one, struct log_slice *out);
/* Bytes readable from offset (up to want): DelayedFetch's "enough bytes" check. */
uint64_t logs_readable(struct partition *p, int64_t offset, bool follower, uint64_t want);

/* CRC-32C (Castagnoli), as record batches v2 carry it. */
uint32_t crc32c(const uint8_t *p, size_t n);

/* Response size placeholder + header, and its completion (proto.c). */
struct wbuf;
void resp_begin(struct wbuf *w, const struct request *r);
int resp_end(struct wbuf *w, struct request *r, size_t hdr_len);

/* ---- network threads ---- */
struct conn;
struct sockaddr_storage;

/* An accepted socket on its way to a network thread. */
struct new_conn {
	int fd;
	char client[64]; /* peer IP:PORT */
};

struct net {
	struct broker *b;
	uint32_t id;
	pthread_t thr;
	int epfd, evfd;
	pthread_mutex_t mu; /* guards the two inboxes below */
	struct request *resp_head, *resp_tail;
	struct new_conn *new_fds;
	size_t n_new, cap_new;
	struct conn **conns;
	size_t nconns;
	uint8_t *chunk; /* --io chunked receive buffer */
	uint64_t next_gen;
	uint32_t sleep_count[RB_PH_N];
};

int net_init(struct net *n, struct broker *b, uint32_t id);
void net_destroy(struct net *n);
void *net_main(void *arg);
void *acceptor_main(void *arg);
/* Hands a finished request back to its network thread and wakes it. */
void net_respond(struct broker *b, struct request *r);
void net_add_conn(struct net *n, int fd, const struct sockaddr_storage *peer);
void net_wake(struct net *n);

/* ---- handlers, purgatory, truth ---- */
void *handler_main(void *arg);
int handlers_start(struct broker *b);
int hog_pick_cpu(void);
int handle_request(struct broker *b, struct request *r);

struct purgatory {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct request *head, *tail;
	bool stop;
	pthread_t thr;
};
int purgatory_start(struct broker *b);
void purgatory_add(struct broker *b, struct request *r);
void purgatory_stop(struct broker *b);

struct truth {
	FILE *f;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **lines;
	size_t n, cap;
	bool stop;
	pthread_t thr;
	uint64_t dropped;
};
int truth_open(struct broker *b);
/* Formats r's ground-truth line and queues it for the writer thread. */
void truth_emit(struct broker *b, const struct request *r);
void truth_close(struct broker *b);

/* Queues a line of its own (an event, not a request) for the writer. */
void truth_emit_line(struct broker *b, char *line);

int cpu_hog_start(struct broker *b);
/* A condition variable whose timed waits use CLOCK_MONOTONIC, as now_ns(). */
int cond_init_monotonic(pthread_cond_t *cv);
/* Waits on cv until signalled or due_ns (now_ns() clock); UINT64_MAX: no deadline. */
void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t due_ns);
/* Counts calls; true every `every`-th one (thread-safe). */
bool every_nth(uint64_t *counter, uint32_t every);

/* ---- Fetch (fetch.c), its purgatory (fetch_purgatory.c), replication hook ---- */
struct fetch_topic {
	char name[RB_MAX_TOPIC_LEN + 1];
	size_t first, n; /* its partitions in fetch_req.parts */
};

struct fetch_part {
	int32_t partition, leader_epoch, max_bytes;
	int64_t fetch_offset, log_start;
	struct partition *p; /* NULL: unknown topic or partition, or not_leader */
	bool not_leader;
	/* the last read */
	int16_t error;
	int64_t hw;
	struct log_slice slice;
};

struct fetch_req {
	int32_t replica_id, max_wait_ms, min_bytes, max_bytes, session_id, session_epoch;
	int8_t isolation;
	int16_t error; /* top level (v7+): FETCH_SESSION_ID_NOT_FOUND */
	struct fetch_topic *topics;
	size_t ntopics;
	struct fetch_part *parts;
	size_t nparts;
	uint64_t bytes;			   /* records bytes of the last read */
	uint64_t t_fetch_read;		   /* after the last read */
	uint64_t t_wait_start, t_wait_end; /* in the fetch purgatory; 0: not delayed */
	bool delay; /* set by fetch_handle: not enough bytes, to the purgatory */
};

int fetch_handle(struct broker *b, struct request *r, const uint8_t *body, size_t len);
int list_offsets_handle(struct broker *b, struct request *r, const uint8_t *body, size_t len);
/* Reads the partitions again and hands the response to the network thread. */
void fetch_complete(struct broker *b, struct request *r);
void fetch_req_free(struct fetch_req *f);
/* True when the fetch has min_bytes readable now (DelayedFetch.tryComplete). */
bool fetch_satisfied(struct request *r);
/* Does r's fetch read partition p? */
bool fetch_watches(const struct request *r, const struct partition *p);

struct fetch_purgatory {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct request *head; /* waiting fetches, any order (deadlines differ) */
	bool stop;
	pthread_t thr;
};
int fetch_purgatory_start(struct broker *b);
/* Parks r until enough bytes arrive or r->t_due; may complete it at once. */
void fetch_purgatory_add(struct broker *b, struct request *r);
/* After an append to p or an HW advance of p: completes the fetches now satisfied. */
void fetch_purgatory_wake(struct broker *b, struct partition *p);
void fetch_purgatory_stop(struct broker *b);

/*
 * Replication hook, owned by the replication module (replica.c): called
 * from the thread handling a Fetch with replica_id >= 0, for each partition
 * of the fetch, before it is read; no lock is held, the hook takes what it
 * needs (p->lock, p->leader_isr). t_arrival_ns: when the request was read.
 */
void replica_on_fetch(struct broker *b, struct partition *p, int32_t replica_id,
		      int64_t fetch_offset, uint64_t t_arrival_ns);

/* ---- replication (--cluster): replica.c leader side, fetcher.c follower side ---- */
struct fetcher {
	struct broker *b;
	uint32_t leader; /* index in o.nodes */
	uint32_t n;
	int wake_fd; /* eventfd: a topic was created here */
	pthread_t thr;
	bool started;
};

struct replication {
	pthread_mutex_t mu; /* every repl_part, ISR, HW, the produce purgatory */
	pthread_cond_t cv;  /* wakes the reaper */
	struct request *purg_head;
	pthread_t isr_thr, reaper_thr;
	bool threads;
	struct fetcher *fetchers;
	uint32_t nfetchers;
};

/* Static assignment: leader brokers[p % n], replicas the next R in ring order. */
void replica_partition_init(struct broker *b, struct partition *p);
void replica_partition_free(struct partition *p);
int replica_start(struct broker *b);
void replica_stop(struct broker *b);
/* Under the partition mutex, after a leader append: LEO, HW, acks=all wait. */
void replica_on_append(struct broker *b, struct partition *p, struct request *r, uint32_t part);
/* Follower: the high watermark from the leader's fetch response. */
void replica_follower_hw(struct broker *b, struct partition *p, int64_t leader_hw);
bool replica_is_leader(const struct broker *b, const struct partition *p);
/* Metadata: replicas and ISR as known here; counts returned. */
uint32_t replica_isr(struct broker *b, struct partition *p, int32_t *out);
/* Handler done with an acks=all produce: false when it waits for replication. */
bool replica_produce_done(struct broker *b, struct request *r);
/* Error for an acks=all append when the ISR is under --min-insync-replicas. */
int16_t replica_check_min_isr(struct broker *b, struct partition *p);
void replica_lock(struct broker *b);
void replica_unlock(struct broker *b);

/* Before anything can create a topic; stopped first, freed after the handlers. */
int fetchers_start(struct broker *b);
void fetchers_stop(struct broker *b);
void fetchers_free(struct broker *b);
/* A topic was created: fetchers drop their long poll and fetch it too. */
void fetchers_wake(struct broker *b);

/* ---- the broker context ---- */
struct broker {
	struct rb_opts o;
	volatile sig_atomic_t *stop;
	int listen_fd;
	uint16_t port;
	struct rqueue rq;
	struct net *nets;
	uint32_t next_net;
	pthread_t acceptor;
	pthread_t *handlers;
	uint32_t nhandlers_started;
	struct logs logs;
	struct purgatory purg;
	struct fetch_purgatory fpurg;
	struct truth truth;
	pthread_t hog;
	bool hog_started;
	int hog_cpu; /* CPU the handlers and the hog share, -1: not pinned */
	uint64_t inject_count[RB_PH_N];
	uint64_t lock_hold_count, fsync_count;
	int64_t next_producer_id; /* InitProducerId, from RB_PRODUCER_ID_0 (+ the id block) */
	struct replication repl;
};

static inline bool rb_cluster(const struct broker *b)
{
	return b->o.nnodes > 0;
}

#endif /* REFBROKER_BROKER_H */
