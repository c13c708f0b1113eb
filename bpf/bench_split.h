/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKALAT_BENCH_SPLIT_H
#define KAFKALAT_BENCH_SPLIT_H

/*
 * `make bench` also builds a kafkalat that counts each program's runs by
 * whom they are for (OUT=build/split, -DKLT_BENCH_SPLIT; with
 * -DKLT_BENCH_FLOOR too in build/split-floor): a traced broker, or another
 * process, whose runs leave at the program's filter. The syscall and
 * scheduler tracepoints fire for every process on the machine, the load
 * generator's too; scripts/bench_causes.py reads these counts to tell the
 * BPF time spent for the broker from the time spent leaving for the others
 * (docs/design.md, "Whose runs the BPF time is"). Only counts come from
 * this build: the times come from the unmodified builds.
 *
 * The count sits before the floor's return, so build/split-floor counts
 * the floor's runs. Without KLT_BENCH_SPLIT nothing of this is compiled,
 * the classifying expression included.
 */
#ifdef KLT_BENCH_SPLIT

/* The one list of counted programs, by name: the counting macro names the
 * field after its program, and the bench reads the names from the map's
 * BTF (bpftool's formatted dump), so no index is kept anywhere.
 * [0]: runs for other processes, [1]: runs for a traced broker. Programs
 * of both objects share the list; each object fills its own. */
struct bench_split_runs {
	__u64 sk_data_ready[2];
	__u64 inet_sock_set_state[2];
	__u64 net_dev_queue[2];
	__u64 sys_enter[2];
	__u64 sys_exit[2];
	__u64 sock_enter1[2];
	__u64 sock_enter3[2];
	__u64 sock_enter4[2];
	__u64 sock_exit[2];
	__u64 file_sys_enter[2];
	__u64 file_sys_exit[2];
	__u64 sched_switch[2];
	__u64 sched_waking[2];
	__u64 block_rq_issue[2];
	__u64 block_rq_complete[2];
	__u64 jbd2_start_commit[2];
	__u64 jbd2_end_commit[2];
	__u64 jbd2_run_stats[2];
	__u64 jbd2_handle_stats[2];
	__u64 balance_dirty_pages[2];
	__u64 folio_wait_writeback[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_split_runs);
} bench_split SEC(".maps");

/* Atomic: a syscall tracepoint's program may be preempted by another on
 * the same CPU. */
#define BENCH_SPLIT_COUNT(prog, for_broker)                                            \
	do {                                                                           \
		__u32 bench_split_key = 0;                                             \
		struct bench_split_runs *bench_split_r =                               \
		    bpf_map_lookup_elem(&bench_split, &bench_split_key);               \
		if (bench_split_r)                                                     \
			__sync_fetch_and_add(&bench_split_r->prog[!!(for_broker)], 1); \
	} while (0)
#else
#define BENCH_SPLIT_COUNT(prog, for_broker) \
	do {                                \
	} while (0)
#endif

#endif
