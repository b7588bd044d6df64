"""Does the embedded Kafka broker slow down as its history grows? (issue 26's soak)

Starts its own Tansu (the broker devstack embeds: memory storage) on a free port, then
measures a consumer group's round trip (produce one record, poll it, commit) and the broker's
CPU per round trip, first on an empty topic, then after each further 20,000 records
consumed and committed; finally tries DeleteRecords (what would trim the log where the
broker has no retention). Prints one line per step.

`python -m bench.broker_growth` (about a minute). `python -m bench.broker_growth consumer`
(a few minutes): the broker's CPU while one consumer in a group, caught up, polls with each
`fetch_max_wait_ms` of WAITS and records trickle in at TRICKLE/s, and their produce ->
consume latency, as the topic's batches (one per produce request) grow by GROWTH at a time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from bench.cpu import cpu_seconds
from bench.stats import summary_ms
from devstack.embedded import tansu_binary
from devstack.procs import free_port

ROUNDS = 4
RECORDS_PER_ROUND = 20_000
PROBES = 300


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


WAITS = (50, 500)
TRICKLE, GROWTH, STEPS, MEASURE_S = 20, 15_000, 4, 15


def _consumer_cost(servers: str, pid: int, wait_ms: int, topic: str, group: str) -> str:
    """Broker CPU (% of a core) and latency while a caught-up consumer polls for MEASURE_S."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=servers, group_id=group, enable_auto_commit=False,
        auto_offset_reset="latest", fetch_max_wait_ms=wait_ms,
    )  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=0)
    while not consumer.assignment():
        consumer.poll(100)
    consumer.poll(500)
    latencies: list[float] = []
    cpu, started = cpu_seconds(pid), time.monotonic()
    next_send = started
    while time.monotonic() - started < MEASURE_S:
        if time.monotonic() >= next_send:
            producer.send(topic, str(time.time()).encode())
            next_send += 1 / TRICKLE
        for records in consumer.poll(5).values():
            latencies += [time.time() - float(r.value) for r in records]
        consumer.commit()
    share = 100 * (cpu_seconds(pid) - cpu) / (time.monotonic() - started)
    producer.close()
    consumer.close()
    ms = summary_ms(latencies)
    return (
        f"fetch_max_wait_ms {wait_ms}: broker CPU {share:.0f}% of a core, latency p50 "
        f"{ms['p50_ms']:.0f} ms, p99 {ms['p99_ms']:.0f} ms"
    )


def consumer_growth(servers: str, pid: int) -> None:
    """The consumer's cost as the topic's history grows (see the module's docstring)."""
    KafkaAdminClient(bootstrap_servers=servers).create_topics([NewTopic("history", 3, 1)])
    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=0)
    for step in range(STEPS + 1):
        if step:
            for _ in range(GROWTH):  # one record per produce request: one batch each
                producer.send("history", b"h" * 300).get(10)
        for wait_ms in WAITS:
            cost = _consumer_cost(servers, pid, wait_ms, "history", f"g{step}-{wait_ms}")
            print(f"{step * GROWTH:>7,} batches, {cost}", flush=True)


def main() -> int:
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", listener, "--advertised-listener-url",
         listener, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    servers = f"127.0.0.1:{port}"
    try:
        time.sleep(2)
        if sys.argv[1:] == ["consumer"]:
            consumer_growth(servers, broker.pid)
            return 0
        admin = KafkaAdminClient(bootstrap_servers=servers)
        admin.create_topics([NewTopic("growth", 3, 1)])
        producer = KafkaProducer(bootstrap_servers=servers, linger_ms=2)
        consumer = KafkaConsumer(
            "growth",
            bootstrap_servers=servers,
            group_id="growth",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

        def probe(label: str) -> None:
            seconds, cpu = [], cpu_seconds(broker.pid)
            for _ in range(PROBES):
                started = time.perf_counter()
                producer.send("growth", b"x" * 300).get(10)
                while not sum(len(v) for v in consumer.poll(200).values()):
                    pass
                consumer.commit()
                seconds.append(time.perf_counter() - started)
            per_op = (cpu_seconds(broker.pid) - cpu) / PROBES * 1000
            print(
                f"{label}: broker RSS {_rss_mib(broker.pid):.0f} MiB, round trip p50 "
                f"{statistics.median(seconds) * 1000:.1f} ms, broker CPU {per_op:.2f} ms per "
                "round trip",
                flush=True,
            )

        probe("empty")
        for n in range(1, ROUNDS + 1):
            for i in range(RECORDS_PER_ROUND):
                producer.send("growth", b"y" * 300)
                if i % 20 == 0:
                    consumer.poll(0)
                    consumer.commit()
            producer.flush()
            while sum(len(v) for v in consumer.poll(500).values()):
                consumer.commit()
            probe(f"after {n * RECORDS_PER_ROUND:,} more records consumed")
        try:
            admin.delete_records({TopicPartition("growth", 0): 10}, partition_leader_id=0)
            print("DeleteRecords: accepted")
        except Exception as err:  # noqa: BLE001 - what the broker says is the finding
            print(f"DeleteRecords: refused ({type(err).__name__}: {err})")
    finally:
        broker.terminate()
        broker.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
