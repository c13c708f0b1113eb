// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The cause classifier on real kernel stacks captured on this machine
 * (tests/data/stacks/, scripts/capture-stacks.sh) and on hand-made edge
 * cases: empty and scheduler-only stacks, priority conflicts, BPF-style
 * frames that /proc/<tid>/stack hides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafkalat/cause.h"

#define MAX_FRAMES    128
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct stack_file {
	char expect[1024];
	char *frames[MAX_FRAMES];
	size_t n;
};

static void stack_file_free(struct stack_file *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->frames[i]);
	s->n = 0;
}

/* "# expect: CAUSE" header, other "#" lines and blank lines ignored, every
 * other line a frame as printed (with or without "[<0>] " and offsets). */
static void stack_file_load(const char *path, struct stack_file *s)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	assert_non_null(f);
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "# expect: ", 10) == 0)
			snprintf(s->expect, sizeof(s->expect), "%s", line + 10);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		assert_true(s->n < MAX_FRAMES);
		s->frames[s->n] = strdup(line);
		assert_non_null(s->frames[s->n]);
		s->n++;
	}
	fclose(f);
	assert_true(s->expect[0] != '\0');
}

/* "journal", or "other:<name>" with the name of the top frame. */
static void describe(enum cause c, const char *top, char *buf, size_t len)
{
	const char *name;
	size_t n = cause_frame_name(top, &name);

	if (c == CAUSE_OTHER)
		snprintf(buf, len, "other:%.*s", (int)n, name);
	else
		snprintf(buf, len, "%s", cause_name(c));
}

static const char *data_dir(void)
{
	const char *dir = getenv("KAFKALAT_TEST_DATA");

	return dir ? dir : "tests/data";
}

static int check_file(const char *path)
{
	struct stack_file s;
	const char *top = NULL;
	char got[512];
	enum cause c;

	stack_file_load(path, &s);
	c = cause_classify((const char *const *)s.frames, s.n, &top);
	assert_non_null(top);
	describe(c, top, got, sizeof(got));
	if (strcmp(got, s.expect) != 0)
		fail_msg("%s: expected %s, got %s", path, s.expect, got);
	stack_file_free(&s);
	return 1;
}

static void test_real_stacks(void **state)
{
	char dir[4096], path[8192];
	struct dirent *de;
	int n = 0;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/stacks", data_dir());
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n += check_file(path);
	}
	closedir(d);
	print_message("classified %d captured stacks\n", n);
	assert_true(n >= 10);
}

/* Every cause the captures are meant to cover has at least one file. */
static void test_real_stacks_cover(void **state)
{
	static const char *const causes[] = {"journal",	   "writeback", "dirty_throttle", "blkio",
					     "futex",	   "pagefault", "reclaim",	  "net",
					     "inode_lock", "other:"};
	char dir[4096], path[8192];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/stacks", data_dir());
	for (size_t i = 0; i < ARRAY_SIZE(causes); i++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		int found = 0;

		assert_non_null(d);
		while (!found && (de = readdir(d))) {
			struct stack_file s;

			if (!strstr(de->d_name, ".txt"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			stack_file_load(path, &s);
			found = strncmp(s.expect, causes[i], strlen(causes[i])) == 0;
			stack_file_free(&s);
		}
		closedir(d);
		if (!found)
			fail_msg("no captured stack for %s", causes[i]);
	}
}

#define CLASSIFY(expect_cause, expect_top, ...)                                           \
	do {                                                                              \
		const char *fr[] = {__VA_ARGS__};                                         \
		const char *top = NULL;                                                   \
		assert_int_equal(cause_classify(fr, ARRAY_SIZE(fr), &top), expect_cause); \
		assert_string_equal(top, expect_top);                                     \
	} while (0)

static void test_empty(void **state)
{
	const char *top = NULL;

	(void)state;
	assert_int_equal(cause_classify(NULL, 0, &top), CAUSE_OTHER);
	assert_string_equal(top, "unknown");
	assert_int_equal(cause_classify(NULL, 5, &top), CAUSE_OTHER);
	assert_string_equal(top, "unknown");
	assert_int_equal(cause_classify((const char *const[]){"x"}, 0, NULL), CAUSE_OTHER);
}

static void test_scheduler_only(void **state)
{
	(void)state;
	CLASSIFY(CAUSE_OTHER, "unknown", "__schedule", "schedule", "schedule_timeout");
	CLASSIFY(CAUSE_OTHER, "unknown", "bpf_prog_6deef7357e7b4530_on_switch", "bpf_trace_run4",
		 "__traceiter_sched_switch", "__schedule", "schedule");
	/* the first frame that is not plumbing names the wait */
	CLASSIFY(CAUSE_OTHER, "do_epoll_wait", "__schedule", "schedule",
		 "schedule_hrtimeout_range_clock", "do_epoll_wait", "__x64_sys_epoll_wait");
	CLASSIFY(CAUSE_OTHER, "pipe_read+0x1/0x2", "schedule+0x10/0x20", "pipe_read+0x1/0x2",
		 "vfs_read");
}

static void test_null_frames(void **state)
{
	(void)state;
	CLASSIFY(CAUSE_OTHER, "ep_poll", NULL, "schedule", NULL, "ep_poll");
	CLASSIFY(CAUSE_JOURNAL, "start_this_handle", NULL, "start_this_handle", NULL);
}

/* BPF stacks keep the __sched frames /proc hides: io_schedule under a journal
 * or writeback wait stays journal/writeback. */
static void test_journal_beats_blkio(void **state)
{
	(void)state;
	CLASSIFY(CAUSE_JOURNAL, "do_get_write_access", "__schedule", "schedule", "io_schedule",
		 "bit_wait_io", "__wait_on_bit", "out_of_line_wait_on_bit", "do_get_write_access",
		 "jbd2_journal_get_write_access", "ext4_dirty_inode");
	CLASSIFY(CAUSE_JOURNAL, "wait_transaction_locked", "schedule", "wait_transaction_locked",
		 "add_transaction_credits", "start_this_handle", "jbd2__journal_start");
	CLASSIFY(CAUSE_JOURNAL, "jbd2__journal_start", "io_schedule", "jbd2__journal_start");
	CLASSIFY(CAUSE_WRITEBACK, "folio_wait_writeback", "io_schedule", "folio_wait_bit_common",
		 "folio_wait_writeback", "__filemap_fdatawait_range", "file_write_and_wait_range");
	CLASSIFY(CAUSE_BLKIO, "io_schedule", "__schedule", "io_schedule", "folio_wait_bit_common",
		 "filemap_read", "vfs_read");
	CLASSIFY(CAUSE_BLKIO, "blk_mq_get_tag", "io_schedule", "blk_mq_get_tag",
		 "__blk_mq_alloc_requests", "blk_mq_submit_bio");
	CLASSIFY(CAUSE_BLKIO, "rq_qos_wait", "io_schedule", "rq_qos_wait", "wbt_wait");
	CLASSIFY(CAUSE_JOURNAL, "xlog_grant_head_wait", "schedule", "xlog_grant_head_wait",
		 "xlog_grant_head_check", "xfs_log_reserve", "xfs_trans_reserve");
}

static void test_priority_conflicts(void **state)
{
	(void)state;
	/* reclaim waiting on writeback is reclaim */
	CLASSIFY(CAUSE_RECLAIM, "shrink_node", "io_schedule", "folio_wait_writeback",
		 "shrink_folio_list", "shrink_node", "do_try_to_free_pages", "try_to_free_pages",
		 "__alloc_pages_slowpath.constprop.0", "start_this_handle");
	/* a fault on an mmapped file that needs a journal handle is journal */
	CLASSIFY(CAUSE_JOURNAL, "start_this_handle", "schedule", "start_this_handle",
		 "jbd2__journal_start", "ext4_page_mkwrite", "do_page_mkwrite", "handle_mm_fault",
		 "exc_page_fault");
	/* a major fault's read is pagefault, not blkio */
	CLASSIFY(CAUSE_PAGEFAULT, "handle_mm_fault", "io_schedule", "folio_wait_bit_common",
		 "filemap_fault", "__do_fault", "handle_mm_fault", "exc_page_fault");
	/* dirty throttling sleeps in io_schedule_timeout */
	CLASSIFY(CAUSE_DIRTY_THROTTLE, "balance_dirty_pages", "schedule_timeout",
		 "io_schedule_timeout", "balance_dirty_pages",
		 "balance_dirty_pages_ratelimited_flags", "generic_perform_write");
	/* a fault inside a futex op is pagefault */
	CLASSIFY(CAUSE_PAGEFAULT, "exc_page_fault", "rwsem_down_read_slowpath",
		 "lock_mm_and_find_vma", "exc_page_fault", "asm_exc_page_fault", "futex_wait_setup",
		 "__futex_wait");
	/* on a tie the innermost evidence frame is reported */
	CLASSIFY(CAUSE_JOURNAL, "jbd2_log_wait_commit", "jbd2_log_wait_commit",
		 "jbd2_complete_transaction", "ext4_sync_file");
}

static void test_inode_lock(void **state)
{
	(void)state;
	CLASSIFY(CAUSE_INODE_LOCK, "rwsem_down_write_slowpath", "schedule",
		 "rwsem_down_write_slowpath", "down_write", "ext4_buffered_write_iter",
		 "vfs_write");
	CLASSIFY(CAUSE_INODE_LOCK, "rwsem_down_read_slowpath", "rwsem_down_read_slowpath",
		 "down_read", "ext4_dio_write_iter.isra.0", "ext4_file_write_iter");
	CLASSIFY(CAUSE_INODE_LOCK, "xfs_ilock", "rwsem_down_write_slowpath", "down_write_nested",
		 "xfs_ilock", "xfs_file_buffered_write");
	CLASSIFY(CAUSE_INODE_LOCK, "rwsem_down_write_slowpath", "rwsem_down_write_slowpath",
		 "down_write", "open_last_lookups", "path_openat");
	/* mmap_lock inside a write()'s user copy: the fault, not the inode */
	CLASSIFY(CAUSE_PAGEFAULT, "exc_page_fault", "rwsem_down_read_slowpath",
		 "lock_mm_and_find_vma", "exc_page_fault", "asm_exc_page_fault",
		 "copy_page_from_iter_atomic", "generic_perform_write", "ext4_buffered_write_iter");
	/* /proc/<tid>/stack hides down_write: the taker is on top */
	CLASSIFY(CAUSE_INODE_LOCK, "[<0>] ext4_buffered_write_iter+0x2f/0x140",
		 "[<0>] ext4_buffered_write_iter+0x2f/0x140", "[<0>] vfs_write+0x29c/0x4c0");
	CLASSIFY(CAUSE_OTHER, "some_wait", "some_wait", "ext4_buffered_write_iter", "vfs_write");
	CLASSIFY(CAUSE_INODE_LOCK, "do_truncate", "schedule", "do_truncate", "do_ftruncate");
	/* an rwsem with no inode context is not inode_lock */
	CLASSIFY(CAUSE_OTHER, "rwsem_down_write_slowpath", "schedule", "rwsem_down_write_slowpath",
		 "down_write", "some_driver_ioctl", "a", "b", "c", "ext4_file_write_iter");
}

static void test_frame_formats(void **state)
{
	const char *name;

	(void)state;
	assert_int_equal(cause_frame_name("[<0>] do_get_write_access+0x277/0x3d0", &name), 19);
	assert_memory_equal(name, "do_get_write_access", 19);
	assert_int_equal(cause_frame_name("ext4_dirty_inode+0x57/0x90 [ext4]", &name), 16);
	assert_int_equal(cause_frame_name("schedule", &name), 8);
	assert_int_equal(cause_frame_name("[<0>] ", &name), 0);
	assert_int_equal(cause_frame_name("[<0>", &name), 0);
	assert_int_equal(cause_frame_name("", &name), 0);
	assert_int_equal(cause_frame_name(NULL, &name), 0);
	/* offsets, "[<0>] ", modules and compiler suffixes all match */
	CLASSIFY(CAUSE_JOURNAL, "[<0>] do_get_write_access+0x277/0x3d0",
		 "[<0>] do_get_write_access+0x277/0x3d0");
	CLASSIFY(CAUSE_JOURNAL, "do_get_write_access.cold+0x1/0x2 [jbd2]",
		 "do_get_write_access.cold+0x1/0x2 [jbd2]");
	CLASSIFY(CAUSE_RECLAIM, "__alloc_pages_slowpath.constprop.0",
		 "__alloc_pages_slowpath.constprop.0");
	/* a prefix rule is not a substring rule, nor does a name match a
	 * longer one */
	CLASSIFY(CAUSE_OTHER, "my_jbd2_thing", "my_jbd2_thing");
	CLASSIFY(CAUSE_OTHER, "futex_wait_setup", "futex_wait_setup");
	CLASSIFY(CAUSE_OTHER, "start_this_handle_x", "start_this_handle_x");
}

static void test_names(void **state)
{
	static const char *const names[CAUSE_MAX] = {
	    "cpu",   "runq",	  "journal", "writeback", "dirty_throttle", "blkio", "inode_lock",
	    "futex", "pagefault", "reclaim", "net",	  "other"};

	(void)state;
	for (int c = 0; c < CAUSE_MAX; c++)
		assert_string_equal(cause_name((enum cause)c), names[c]);
	assert_null(cause_name(CAUSE_MAX));
	assert_null(cause_name((enum cause) - 1));
}

/* Stackless ids: the futex kind is a futex wait, -1 and unknown kinds none. */
static void test_stackless(void **state)
{
	(void)state;
	assert_int_equal(cause_stackless(-2)->cause, CAUSE_FUTEX);
	assert_string_equal(cause_stackless(-2)->frames[0], "futex_wait");
	assert_string_equal(cause_stackless(-3)->folded, "__x64_sys_epoll_wait;do_epoll_wait");
	assert_null(cause_stackless(-1));
	assert_null(cause_stackless(0));
	assert_null(cause_stackless(-5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stackless),
	    cmocka_unit_test(test_real_stacks),
	    cmocka_unit_test(test_real_stacks_cover),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_scheduler_only),
	    cmocka_unit_test(test_null_frames),
	    cmocka_unit_test(test_journal_beats_blkio),
	    cmocka_unit_test(test_priority_conflicts),
	    cmocka_unit_test(test_inode_lock),
	    cmocka_unit_test(test_frame_formats),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
