# kafkalat: out-of-tree build into $(OUT). `make V=1` shows full commands.
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

OUT	?= build
CC	?= gcc
CLANG	?= clang
BPFTOOL	?= bpftool
VMLINUX_H ?= $(OUT)/vmlinux.h
ARCH	:= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN	:= -Wall -Wextra -Werror
# -DKLT_BENCH_FLOOR: every BPF program returns at once (bpf/bench_floor.h);
# -DKLT_BENCH_SPLIT: each counts its runs for the broker and for other
# processes (bpf/bench_split.h)
BPF_DEFS ?=
CFLAGS	?= -O2 -g
XCFLAGS	:= -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -I$(OUT) -MMD -MP
LDLIBS	:= -lbpf -lelf -lz -lrdkafka -lpthread -lm
SAN	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# src/lib: pure logic (no libbpf, no librdkafka), linked into the unit tests
# and fuzzers; src/loader: the BPF objects' loaders (libbpf); src/cmd: the
# program, one file per subcommand. tests/kproto: the tests' full-buffer
# Kafka decoder (the framer's oracle), shared with the reference broker.
LIB_SRCS := $(wildcard src/lib/*.c)
LOADER_SRCS := $(wildcard src/loader/*.c)
CMD_SRCS := $(wildcard src/cmd/*.c)
SRCS	:= $(LIB_SRCS) $(LOADER_SRCS) $(CMD_SRCS)
OBJS	:= $(patsubst src/%.c,$(OUT)/obj/%.o,$(SRCS))
LIB_SAN_OBJS := $(patsubst src/%.c,$(OUT)/san/%.o,$(LIB_SRCS))
CLANG_OBJS := $(patsubst src/%.c,$(OUT)/clang/%.o,$(SRCS))
KPROTO	:= tests/kproto/kproto.c
KPROTO_SAN_OBJ := $(OUT)/san/tests/kproto.o
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_HDRS := $(wildcard bpf/*.h include/kafkalat/*events.h)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUT)/%,$(HELPER_SRCS))
BROKER_SRCS := $(wildcard tests/broker/*.c)
BROKER_DEPS := $(BROKER_SRCS) $(KPROTO) src/lib/kapi.c
BROKER_BINS := $(if $(BROKER_SRCS),$(OUT)/refbroker $(OUT)/refbroker-san)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))

.PHONY: all deps test unit integration fuzz fuzz-smoke clang-check format-check bench soak demo \
	demo-cluster clean format test-run bench-run soak-run demo-run demo-cluster-run install \
	uninstall

# Building needs no root once the packages are in: `make deps` installs them
# (as root), and so do the demo, test, bench and soak targets first.
all: $(OUT)/kafkalat $(HELPER_BINS) $(BROKER_BINS)

deps:
	$(Q)scripts/deps.sh

$(OUT) $(OUT)/tests $(OUT)/fuzz:
	$(Q)mkdir -p $@

ifeq ($(VMLINUX_H),$(OUT)/vmlinux.h)
$(OUT)/vmlinux.h: | $(OUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@
endif

# Each bpf/X.bpf.c is one BPF object with its skeleton build/X.skel.h
# (struct X_bpf); the loaders (src/loader/) include them. The objects
# include "vmlinux.h" from VMLINUX_H's directory (a VMLINUX_H override
# keeps that file name).
$(OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(VMLINUX_H) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-function -Wno-unused-parameter \
		$(BPF_DEFS) -Iinclude -Ibpf -I$(dir $(VMLINUX_H)) -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(filter $(OUT)/obj/loader/%,$(OBJS)) $(filter $(OUT)/clang/loader/%,$(CLANG_OBJS)): $(SKELS)

$(OUT)/obj/%.o: src/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) -c $< -o $@

# Every module also compiles warning-free with clang (make test checks it).
$(OUT)/clang/%.o: src/%.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(CFLAGS) $(XCFLAGS) -c $< -o $@

clang-check: $(CLANG_OBJS)

$(OUT)/san/%.o: src/%.c
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(SAN) $(XCFLAGS) -c $< -o $@

$(KPROTO_SAN_OBJ): $(KPROTO)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g $(SAN) $(XCFLAGS) -Itests/kproto -c $< -o $@

$(OUT)/kafkalat: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/refbroker: $(BROKER_DEPS) $(wildcard tests/broker/*.h tests/kproto/*.h) | $(OUT)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(filter-out -MMD -MP,$(XCFLAGS)) -Itests/broker -Itests/kproto $(BROKER_DEPS) -lpthread -lm -o $@

# the same under ASan/UBSan, for the tests
$(OUT)/refbroker-san: $(BROKER_DEPS) $(wildcard tests/broker/*.h tests/kproto/*.h) | $(OUT)
	$(call msg,LINK-SAN,$@)
	$(Q)$(CC) -O1 -g $(SAN) $(filter-out -MMD -MP,$(XCFLAGS)) -Itests/broker -Itests/kproto $(BROKER_DEPS) -lpthread -lm -o $@

$(OUT)/%: tests/helpers/%.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(XCFLAGS) $< -lrdkafka -lpthread -o $@

$(OUT)/tests/test_%: tests/unit/test_%.c $(LIB_SAN_OBJS) $(KPROTO_SAN_OBJ) | $(OUT)/tests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) -O1 -g $(SAN) $(XCFLAGS) -Ibpf -Itests/unit -Itests/kproto $< $(LIB_SAN_OBJS) \
		$(KPROTO_SAN_OBJ) -lcmocka -lz -lm -o $@

# the reference broker's offset -> file range scan, pure logic
$(OUT)/tests/test_slice: tests/unit/test_slice.c tests/broker/slice.c tests/broker/slice.h | $(OUT)/tests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) -O1 -g $(SAN) $(XCFLAGS) -Itests/broker $< tests/broker/slice.c -lcmocka -o $@

# the reference broker's replication rules, pure logic
$(OUT)/tests/test_isr: tests/unit/test_isr.c tests/broker/isr.c tests/broker/isr.h | $(OUT)/tests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) -O1 -g $(SAN) $(XCFLAGS) -Itests/broker $< tests/broker/isr.c -lcmocka -o $@

# The fuzzers share one instrumented build of src/lib and kproto: compiled
# once, not once per target.
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
	-Iinclude -Ibpf -Itests/kproto -MMD -MP
FUZZ_LIB_OBJS := $(patsubst src/%.c,$(OUT)/fuzzobj/%.o,$(LIB_SRCS)) $(OUT)/fuzzobj/kproto.o

$(OUT)/fuzzobj/%.o: src/%.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(OUT)/fuzzobj/kproto.o: $(KPROTO)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(OUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS) | $(OUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB_OBJS) \
		-lz -lm -o $@

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done; \
		echo "unit: $(words $(UNIT_BINS)) test programs passed"

integration: all
	$(Q)tests/integration/run.sh

# Replays the checked-in seeds and a few thousand mutations through every
# fuzz target (seconds; a regression run); `make fuzz` searches for longer.
# fuzz_explain runs an explainer per input, fuzz_pipeline two pipelines
# (~100 runs/s under ASan): fewer. fuzz_recording reads recordings of
# dozens of 440 KiB histograms (~20 runs/s): fewer still.
FUZZ_RUNS ?= 20000
FUZZ_RUNS_SLOW ?= 3000
FUZZ_RUNS_SLOWEST ?= 400
fuzz-smoke: $(FUZZ_BINS)
	$(Q)set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); \
		mkdir -p $(OUT)/fuzz/corpus-$$n; seeds=; runs=$(FUZZ_RUNS); \
		case $$n in fuzz_explain|fuzz_pipeline) runs=$(FUZZ_RUNS_SLOW);; \
			fuzz_recording) runs=$(FUZZ_RUNS_SLOWEST);; esac; \
		[ -d tests/fuzz/corpus/$$n ] && seeds=tests/fuzz/corpus/$$n; \
		if ! $$f -runs=$$runs -seed=1 $(OUT)/fuzz/corpus-$$n $$seeds \
			> $(OUT)/fuzz/$$n.log 2>&1; then \
			tail -40 $(OUT)/fuzz/$$n.log; echo "fuzz-smoke: $$n FAILED"; exit 1; fi; \
		echo "fuzz-smoke: $$n ok ($$(grep -ao 'Done [0-9]* runs' $(OUT)/fuzz/$$n.log))"; done

# Every target for FUZZ_SECONDS, FUZZ_JOBS at a time; merges the new inputs
# into tests/fuzz/corpus and writes tests/fuzz/RESULTS.tsv (scripts/fuzz.sh)
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 1
fuzz: $(FUZZ_BINS)
	$(Q)OUT=$(OUT) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) scripts/fuzz.sh

# The targets a newcomer runs install the packages first, then build.
test demo demo-cluster bench soak: deps
	$(Q)$(MAKE) --no-print-directory $@-run

# Everything is built first, in parallel (one job per CPU), then checked
# and run one step at a time.
JOBS ?= $(shell nproc)
test-run:
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all $(CLANG_OBJS) $(UNIT_BINS) $(FUZZ_BINS)
	$(Q)$(MAKE) --no-print-directory format-check clang-check unit fuzz-smoke integration

# bench_causes also measures the hooks alone: a kafkalat whose BPF programs
# return at once, built into $(OUT)/floor; and counts whose runs they are
# (the broker's or other processes') with both built to count, into
# $(OUT)/split and $(OUT)/split-floor
bench-run: all
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/floor BPF_DEFS=-DKLT_BENCH_FLOOR \
		VMLINUX_H=$(VMLINUX_H) $(OUT)/floor/kafkalat
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/split BPF_DEFS=-DKLT_BENCH_SPLIT \
		VMLINUX_H=$(VMLINUX_H) $(OUT)/split/kafkalat
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/split-floor \
		BPF_DEFS="-DKLT_BENCH_SPLIT -DKLT_BENCH_FLOOR" VMLINUX_H=$(VMLINUX_H) \
		$(OUT)/split-floor/kafkalat
	$(Q)scripts/bench.sh

# An hour of the nightly recording under steady load (SOAK_SECONDS, SOAK_RATE):
# slopes of RSS, CPU and output per request, every request accounted for
# (scripts/soak.py; figures in docs/soak.md)
soak-run: all
	$(Q)/usr/bin/python3 scripts/soak.py

demo-run: all
	$(Q)scripts/demo.sh

# the same slow ext4 under a follower of a 3-broker acks=all cluster
demo-cluster-run: all
	$(Q)scripts/demo-cluster.sh

# `make install` (as root, after `make`): the program, its man pages, bash
# completion, the nightly job's script and systemd units (inert until
# `systemctl enable --now kafkalat-nightly.timer`), and the job's settings
# example. PREFIX=/usr for a distribution layout, DESTDIR to stage; each
# directory can be overridden. The units' ExecStart and the script's kafkalat
# path are written for this PREFIX.
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR	?= $(PREFIX)/share/man
DOCDIR	?= $(PREFIX)/share/doc/kafkalat
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANPAGES := $(wildcard man/*.8)
UNITS	:= kafkalat-nightly.service kafkalat-nightly.timer
INSTALLED := $(SBINDIR)/kafkalat $(patsubst man/%,$(MANDIR)/man8/%,$(MANPAGES)) \
	$(BASHCOMPDIR)/kafkalat $(LIBEXECDIR)/kafkalat/nightly \
	$(addprefix $(SYSTEMDUNITDIR)/,$(UNITS)) $(DOCDIR)/kafkalat.default

install: $(OUT)/kafkalat
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(OUT)/kafkalat $(DESTDIR)$(SBINDIR)/kafkalat
	$(Q)for m in $(MANPAGES); do \
		install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/$${m#man/} || exit 1; done
	$(Q)install -D -m 0644 completion/kafkalat.bash $(DESTDIR)$(BASHCOMPDIR)/kafkalat
	$(Q)mkdir -p $(OUT)/install
	$(Q)sed 's|^KAFKALAT=$${KAFKALAT:-kafkalat}$$|KAFKALAT=$${KAFKALAT:-$(SBINDIR)/kafkalat}|' \
		scripts/nightly.sh > $(OUT)/install/nightly
	$(Q)install -D -m 0755 $(OUT)/install/nightly $(DESTDIR)$(LIBEXECDIR)/kafkalat/nightly
	$(Q)for u in $(UNITS); do \
		sed 's|^ExecStart=/usr/local/libexec/|ExecStart=$(LIBEXECDIR)/|' contrib/systemd/$$u \
			> $(OUT)/install/$$u && \
		install -D -m 0644 $(OUT)/install/$$u $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; done
	$(Q)install -D -m 0644 contrib/systemd/kafkalat.default $(DESTDIR)$(DOCDIR)/kafkalat.default

# Removes what install put there, and the directories only kafkalat uses.
uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)rmdir $(DESTDIR)$(LIBEXECDIR)/kafkalat $(DESTDIR)$(DOCDIR) 2>/dev/null || true

FORMATTED = $(wildcard src/*/*.c include/kafkalat/*.h bpf/*.c bpf/*.h tests/unit/*.c \
	tests/unit/*.h tests/helpers/*.c tests/fuzz/*.c tests/fuzz/*.h tests/broker/*.c \
	tests/broker/*.h tests/kproto/*.c tests/kproto/*.h)

format:
	clang-format -i $(FORMATTED)

# The sources are as the project's .clang-format writes them.
format-check:
	$(Q)clang-format --dry-run -Werror $(FORMATTED)

clean:
	rm -rf $(OUT)

-include $(wildcard $(OUT)/obj/*/*.d $(OUT)/san/*/*.d $(OUT)/clang/*/*.d $(OUT)/tests/*.d \
	$(OUT)/fuzzobj/*.d $(OUT)/fuzzobj/*/*.d $(OUT)/fuzz/*.d)
