"""An asyncio HTTP/1.1 load generator: open loop at a fixed rate, or closed loop (C clients).

Raw streams rather than a client library: a request costs the generator tens of microseconds,
so the generator is not what limits the service on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REQUEST_TIMEOUT_S = 15.0
CONNECTION_ERROR = 0  # the Sample.status of a request that got no HTTP answer
TIMED_OUT = -1  # ... or no answer within REQUEST_TIMEOUT_S


@dataclass
class Sample:
    """One request: wall-clock start, latency in seconds, HTTP status (0 on error), tag."""

    started: float
    latency: float
    status: int
    tag: str = ""


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# Servers close keep-alive connections idle for a few seconds (gunicorn: 5 s); a request sent
# on one just as it closes fails without an answer, so idle connections are dropped sooner.
MAX_IDLE_S = 2.0


@dataclass
class _Pool:
    host: str
    port: int
    idle: list[tuple[float, Conn]] = field(default_factory=list)

    async def get(self) -> Conn:
        now = time.monotonic()
        while self.idle:
            since, conn = self.idle.pop()
            if now - since < MAX_IDLE_S:
                return conn
            conn[1].close()
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn: Conn) -> None:
        self.idle.append((time.monotonic(), conn))

    def close(self) -> None:
        for _, (_, writer) in self.idle:
            writer.close()
        self.idle.clear()


async def _exchange(pool: _Pool, request: bytes) -> int:
    """Send one request, read the whole response; keep the connection unless it closes."""
    reader, writer = await pool.get()
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length:
            await reader.readexactly(length)
    except BaseException:
        writer.close()
        raise
    if close:
        writer.close()
    else:
        pool.put((reader, writer))
    return status


async def _timed(pool: _Pool, request: bytes, tag: str, samples: list[Sample]) -> None:
    started, t0 = time.time(), time.perf_counter()
    try:
        status = await asyncio.wait_for(_exchange(pool, request), timeout=REQUEST_TIMEOUT_S)
    except TimeoutError:
        status = TIMED_OUT
    except (OSError, asyncio.IncompleteReadError, ValueError):
        status = CONNECTION_ERROR
    samples.append(Sample(started, time.perf_counter() - t0, status, tag))


async def _open_loop(
    host: str, port: int, rate: float, seconds: float, make: Callable[[int], tuple[bytes, str]]
) -> list[Sample]:
    pool, samples, tasks = _Pool(host, port), list[Sample](), set[asyncio.Task[None]]()
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        request, tag = make(i)
        task = asyncio.create_task(_timed(pool, request, tag, samples))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    pool.close()
    return samples


async def _closed_loop(
    host: str, port: int, clients: int, seconds: float, make: Callable[[int], tuple[bytes, str]]
) -> list[Sample]:
    samples: list[Sample] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        pool = _Pool(host, port)
        while time.perf_counter() < deadline:
            request, tag = make(next(counter))
            await _timed(pool, request, tag, samples)
        pool.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return samples


def open_loop(
    host: str, port: int, rate: float, seconds: float, make: Callable[[int], tuple[bytes, str]]
) -> list[Sample]:
    """Send `rate` requests per second for `seconds`, whatever the latency (an open loop)."""
    return asyncio.run(_open_loop(host, port, rate, seconds, make))


def closed_loop(
    host: str, port: int, clients: int, seconds: float, make: Callable[[int], tuple[bytes, str]]
) -> list[Sample]:
    """`clients` concurrent clients, each sending its next request when the last one answered."""
    return asyncio.run(_closed_loop(host, port, clients, seconds, make))
