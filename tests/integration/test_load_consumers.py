#!/usr/bin/python3
"""`kafkalat load --consumers N` and `--profile java`, no tracing:
(a) librdkafka's mock cluster, 4 producers and 3 consumers in assign mode:
    every consumer reads every record this run produced, exactly once, with
    end-to-end latency figures bounded by the fetch wait;
(b) consumers that cannot catch up in --consume-timeout: the records they
    missed are counted, one line says so, the exit status is 1;
(c) --profile java against the sanitizer reference broker: the effective
    config says acks -1 and idempotence, and the broker's truth shows every
    produce request at acks=-1 after an InitProducerId;
(d) --consumer-mode group against the reference broker, which coordinates no
    groups: one line on stderr naming what is missing, exit status 1, within
    15 s;
(f) group mode against the mock cluster: a group of one is assigned every
    partition and reads every record once;
(e) assign mode against the sanitizer reference broker, which serves
    ListOffsets and Fetch and wakes a waiting fetch when records arrive:
    exact counts again, and end-to-end latency near the delivery latency."""
import json

from lib import main, read_jsonl

N = 2000
RATE = 2000
PRODUCERS = 4
CONSUMERS = 3
SIZE = 100
FETCH_WAIT_MS = 100
# The mock cluster answers a fetch that finds nothing only when its wait
# ends (it is not woken by a produce), so a record waits up to FETCH_WAIT_MS
# for the next fetch: measured p50 56-59 ms, p99 113-137 ms, max 142-148 ms
# over 8 runs on a 2-CPU machine (2026-12-04).
E2E_P99_BOUND_US = 300_000
# The reference broker answers a waiting fetch when records arrive: end to
# end is the delivery latency (librdkafka's linger.ms 5 included) plus a
# fetch round trip. Measured p50 3.8 ms, p99 7.0 ms, max 16 ms
# (refbroker-san, 2026-12-04); the bound leaves room for a busy machine.
REFBROKER_E2E_P99_BOUND_US = 100_000


def assign_mode(t):
    _, boot, _, _ = t.mockcluster(partitions=4)
    s, msgs = t.load(boot, "-t", "t", "--count", N, "--rate", RATE, "--producers", PRODUCERS,
                     "--consumers", CONSUMERS, "--fetch-wait-ms", FETCH_WAIT_MS,
                     name="load-assign")
    t.eq((s["delivered"], s["failed"]), (N, 0), "assign: delivered, failed")
    c = s["consumers"]
    t.eq((c["count"], c["mode"], c["fetch_wait_ms"]), (CONSUMERS, "assign", FETCH_WAIT_MS),
         "assign: consumers, mode, fetch wait")
    t.eq(c["expected"], N, "assign: records each consumer should read (this run's)")
    per = c["per_consumer"]
    t.eq([p["consumed"] for p in per], [N] * CONSUMERS, "assign: records read per consumer")
    t.eq([p["bytes"] for p in per], [N * SIZE] * CONSUMERS, "assign: bytes read per consumer")
    t.eq([p["missing"] for p in per], [0] * CONSUMERS, "assign: missing per consumer")
    t.eq([p["error"] for p in per], [None] * CONSUMERS, "assign: consumer errors")
    t.eq((c["consumed"], c["bytes"], c["missing"], c["all_consumed"]),
         (N * CONSUMERS, N * SIZE * CONSUMERS, 0, True), "assign: totals")
    for who, lat in [("total", c["e2e_latency_us"])] + [(f"consumer {i}", p["e2e_latency_us"])
                                                        for i, p in enumerate(per)]:
        t.check(0 < lat["p50"] <= lat["p99"] <= lat["max"] and lat["p99"] < E2E_P99_BOUND_US,
                f"assign: {who} end-to-end latency 0 < p50 <= p99 <= max, p99 < "
                f"{E2E_P99_BOUND_US} us ({lat})")
    t.eq(len(msgs), N, "assign: --messages lines")
    print(f"  info end-to-end p50 {c['e2e_latency_us']['p50']:.0f} us, p99 "
          f"{c['e2e_latency_us']['p99']:.0f} us, max {c['e2e_latency_us']['max']:.0f} us")
    return boot


def group_mode(t, boot):
    # One member: the mock cluster sometimes answers a follower's SyncGroup
    # with INVALID_REQUEST (seen in 2 of 8 runs with 3 consumers), and each
    # rejoin costs its 3 s rebalance delay, so a larger group may not settle
    # within the load's 10 s join wait. Kafka makes followers wait for the
    # leader's SyncGroup instead.
    s, _ = t.load(boot, "-t", "t", "--count", 1000, "--rate", RATE, "--consumers", 1,
                  "--consumer-mode", "group", "--fetch-wait-ms", FETCH_WAIT_MS,
                  messages=False, name="load-group-mock")
    c = s["consumers"]
    t.eq((c["mode"], c["expected"], c["consumed"], c["missing"], c["all_consumed"]),
         ("group", 1000, 1000, 0, True), "group: mode, expected, consumed, missing, all")
    t.check(0 < c["e2e_latency_us"]["p99"] < E2E_P99_BOUND_US,
            f"group: end-to-end p99 ({c['e2e_latency_us']})")


def missing(t, boot):
    # A fetch wait of 300 s holds a consumer's fetch that finds nothing at
    # the mock cluster for the whole run: with records 50 ms apart, a
    # consumer reads at most the few there when its first fetch arrives and
    # misses the rest (how many it gets is a race, so the counts are checked
    # for consistency).
    rc, out, err, secs = t.run_load(boot, "-t", "t", "--count", 20, "--rate", 20,
                                    "--consumers", 2,
                                    "--fetch-wait-ms", 300000, "--consume-timeout", 0.2,
                                    name="load-missing", timeout=30)
    t.eq(rc, 1, "missing: exit status")
    c = json.loads(out)["consumers"]
    lines = err.strip().splitlines()
    t.check(len(lines) == 1 and f"{c['missing']} records not consumed" in lines[0],
            f"missing: one line on stderr saying so ({lines})")
    t.eq(c["expected"], 20, "missing: records each consumer should read")
    t.check(c["missing"] > 0 and not c["all_consumed"], f"missing: some ({c['missing']})")
    t.check(c["missing"] >= 2 * 15, f"missing: most ({c['missing']} of 40)")
    t.eq(c["consumed"] + c["missing"], 2 * 20, "missing: consumed + missing")
    t.eq(sum(p["missing"] for p in c["per_consumer"]), c["missing"],
         "missing: the consumers' missing add up")
    t.check(secs < 10, f"missing: the run ends soon after the timeout ({secs:.1f} s)")


def java_profile_and_group(t):
    b, port, _, truth = t.san_broker("broker")
    boot = f"127.0.0.1:{port}"
    s, _ = t.load(boot, "-t", "java", "--count", 500, "--profile", "java", messages=False,
                  name="load-java")
    t.eq((s["delivered"], s["failed"]), (500, 0), "java: delivered, failed")
    prof = s["profile"]
    t.eq(prof["name"], "java", "java: profile name")
    cfg = prof["config"]
    t.eq((cfg["acks"], cfg["enable.idempotence"], cfg["linger.ms"], cfg["batch.size"],
          cfg["max.in.flight.requests.per.connection"], cfg["retries"]),
         ("-1", "true", "0", "16384", "5", "2147483647"), "java: effective config")
    s, _ = t.load(boot, "-t", "java", "--count", 10, "--profile", "java", "--acks", "1",
                  "-X", "enable.idempotence=false", "-X", "linger.ms=7", messages=False,
                  name="load-java-override")
    cfg = s["profile"]["config"]
    t.eq((cfg["acks"], cfg["enable.idempotence"], cfg["linger.ms"]), ("1", "false", "7"),
         "java: --acks and -X win over the profile")

    rc, out, err, secs = t.run_load(boot, "-t", "grp", "--count", 10, "--consumers", 2,
                                    "--consumer-mode", "group", name="load-group",
                                    timeout=30)
    lines = err.strip().splitlines()
    t.eq(rc, 1, "group: exit status against a broker without groups")
    t.check(len(lines) == 1 and lines[0].startswith("kafkalat load: ") and
            "FindCoordinator/JoinGroup" in lines[0], f"group: one line on stderr ({lines})")
    t.check(secs < 15, f"group: fails fast ({secs:.1f} s)")
    t.eq(out, "", "group: no summary")

    s, _ = t.load(boot, "-t", "cons", "--count", 1000, "--rate", RATE, "--producers", 2,
                  "--consumers", 2, messages=False, name="load-refbroker")
    c = s["consumers"]
    t.eq((s["delivered"], c["expected"], [p["consumed"] for p in c["per_consumer"]],
          c["missing"]), (1000, 1000, [1000, 1000], 0),
         "refbroker: delivered, expected, consumed per consumer, missing")
    lat = c["e2e_latency_us"]
    t.check(0 < lat["p50"] <= lat["p99"] < REFBROKER_E2E_P99_BOUND_US,
            f"refbroker: end-to-end 0 < p50 <= p99 < {REFBROKER_E2E_P99_BOUND_US} us ({lat}; "
            f"delivery p99 {s['latency_us']['p99']:.0f} us)")

    t.stop_san_broker(b)
    reqs = read_jsonl(truth)
    inits = [r for r in reqs if r["api_key"] == 22]
    produce = [r for r in reqs if r["api_key"] == 0 and
               any(p["topic"] == "java" for p in r["partitions"])]
    t.eq(len(inits), 1, "truth: InitProducerId requests (the idempotent load only)")
    by_acks = {}
    for r in produce:
        by_acks[r["acks"]] = by_acks.get(r["acks"], 0) + sum(p["records"]
                                                            for p in r["partitions"])
    t.eq(by_acks, {-1: 500, 1: 10}, "truth: records by produce acks (java: -1; --acks 1: 1)")

def test(t):
    boot = assign_mode(t)
    group_mode(t, boot)
    missing(t, boot)
    java_profile_and_group(t)


main(test)
