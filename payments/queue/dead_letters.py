"""Dramatiq's dead letters in Redis: list them, retry them, and remember why each one died.

Layout, from dramatiq/brokers/redis/dispatch.lua: `<namespace>:<queue>.XQ` is a sorted set of
Redis message ids scored by when (ms) they were dead-lettered, and `<namespace>:<queue>.XQ.msgs`
maps those ids to the encoded messages. A message waiting for a retry sits on `<queue>.DQ`
but dies into its canonical queue's XQ. Dead letters expire after the broker's
`dead_message_ttl`.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, cast

import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from payments.errors import PaymentsError

ERROR_OPTION = "error"
RETRY_COUNT_OPTION = "dead_letter_retries"
# Options that describe the failed delivery and must not follow the message into a retry.
DELIVERY_OPTIONS = ("redis_message_id", "eta", "retries", "traceback", "requeue_timestamp")
SECRET_NAMES = re.compile(r"token|password|secret", re.IGNORECASE)
SUMMARY_LIMIT = 200

# Rewrite a dead letter in place only while it is still dead (never resurrect a retried one).
REWRITE = """
if redis.call("hexists", KEYS[1], ARGV[1]) == 1 then
    redis.call("hset", KEYS[1], ARGV[1], ARGV[2])
end
"""


class UnknownDeadLetter(PaymentsError, LookupError):
    """No dead letter has one of the given ids."""


def canonical_queue(queue_name: str) -> str:
    """The queue a message belongs to, without Dramatiq's delay suffix."""
    return queue_name.removesuffix(".DQ")


def summary_from_traceback(tb: str) -> str | None:
    """The final exception's first line in a formatted traceback, or None."""
    lines = tb.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        if line and not line[0].isspace():
            return line[:SUMMARY_LIMIT]
    return None


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message."""

    redis_id: str
    queue: str
    message: Message[Any]
    failed_at: datetime

    @property
    def message_id(self) -> str:
        return self.message.message_id

    @property
    def actor(self) -> str:
        return self.message.actor_name

    def arguments(self) -> str:
        """The actor's arguments as JSON, any secret-looking keyword masked."""
        kwargs = {k: "***" if SECRET_NAMES.search(k) else v for k, v in self.message.kwargs.items()}
        shown = list(self.message.args) + ([kwargs] if kwargs else [])
        return json.dumps(shown, default=str, separators=(",", ":"))

    def error(self) -> str:
        """Why it died: the recorded summary, else the last traceback's, else '-'."""
        options = self.message.options
        if options.get(ERROR_OPTION):
            return str(options[ERROR_OPTION])
        return summary_from_traceback(options.get("traceback") or "") or "-"


class DeadLetters:
    """The dead letters of one Dramatiq namespace."""

    def __init__(self, client: redis.Redis, namespace: str):
        self.client, self.namespace = client, namespace

    @cached_property
    def _broker(self) -> RedisBroker:
        """A broker on the same client, to enqueue retried letters (built on first retry)."""
        return RedisBroker(client=self.client, namespace=self.namespace, middleware=[])

    def _key(self, queue: str, suffix: str = "") -> str:
        return f"{self.namespace}:{queue}.XQ{suffix}"

    def queues(self) -> list[str]:
        """Every queue that has a dead-letter set."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.namespace) + ":*.XQ"
        prefix = f"{self.namespace}:"
        found = {
            key.decode().removeprefix(prefix).removesuffix(".XQ")
            for key in self.client.scan_iter(match=pattern, count=500)
        }
        return sorted(found)

    def counts(self, queues: Sequence[str]) -> dict[str, int]:
        """How many dead letters wait in each of `queues` (one pipelined ZCARD each)."""
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            pipe.zcard(self._key(canonical_queue(queue)))
        return {queue: int(n) for queue, n in zip(queues, pipe.execute(), strict=True)}

    def list(self) -> list[DeadLetter]:
        """All dead letters, oldest first."""
        letters: list[DeadLetter] = []
        for queue in self.queues():
            # The client does not decode responses: ids and messages are bytes.
            entries = cast(
                "list[tuple[bytes, float]]",
                self.client.zrange(self._key(queue), 0, -1, withscores=True),
            )
            if not entries:
                continue
            blobs = cast(
                "list[bytes | None]",
                self.client.hmget(self._key(queue, ".msgs"), [rid for rid, _ in entries]),
            )
            for (rid, score), blob in zip(entries, blobs, strict=True):
                if blob is not None:
                    failed_at = datetime.fromtimestamp(score / 1000, UTC)
                    letters.append(DeadLetter(rid.decode(), queue, Message.decode(blob), failed_at))
        return sorted(letters, key=lambda letter: letter.failed_at)

    # `builtins.list`: in this class body `list` names the method above.
    def find(self, ids: Sequence[str]) -> builtins.list[DeadLetter]:
        """The dead letters with these message ids (or Redis ids); UnknownDeadLetter if any is
        not dead-lettered."""
        letters = self.list()
        wanted = set(ids)
        chosen = [d for d in letters if d.message_id in wanted or d.redis_id in wanted]
        known = {d.message_id for d in chosen} | {d.redis_id for d in chosen}
        missing = [i for i in ids if i not in known]
        if missing:
            raise UnknownDeadLetter(", ".join(missing))
        return chosen

    def retry(self, letter: DeadLetter) -> Message[Any]:
        """Enqueue the message again on its queue with a fresh retry budget, then forget the
        dead letter. A crash in between can only run the message twice (actors are
        idempotent), never lose it."""
        old = letter.message
        options = {k: v for k, v in old.options.items() if k not in DELIVERY_OPTIONS}
        options.pop(ERROR_OPTION, None)
        options[RETRY_COUNT_OPTION] = int(old.options.get(RETRY_COUNT_OPTION, 0)) + 1
        fresh: Message[Any] = Message(
            queue_name=letter.queue,
            actor_name=old.actor_name,
            args=old.args,
            kwargs=old.kwargs,
            options=options,
            message_id=old.message_id,
        )
        enqueued = self._broker.enqueue(fresh)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(self._key(letter.queue), letter.redis_id)
            pipe.hdel(self._key(letter.queue, ".msgs"), letter.redis_id)
            pipe.execute()
        return enqueued
