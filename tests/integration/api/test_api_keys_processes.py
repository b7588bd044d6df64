"""API keys across real processes (contract section 11): keys made by `flask keys create` in
a shell, two API processes (gunicorn, as the Procfile starts them) on one database, a
revocation seen by both within 5 s, and no key or hash in their DEBUG logs or in a
`pg_dump` of the database."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from payments.api_keys import KEY_CACHE_S, hash_key
from tests.support import env
from tests.support.factories import payment_body
from tests.support.procs import BIN, ROOT, Process, wait_http
from tests.support.wiring import schema_engine

SECRET = "api-key-secret-for-the-process-test"  # noqa: S105 (a test's own secret)
REVOKED_WITHIN_S = 5.0


def flask(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), *args],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_key(environ: dict[str, str], name: str, *scopes: str) -> str:
    made = flask(environ, "keys", "create", name, *(f"--scope={s}" for s in scopes))
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[dict[str, str], list[str]]]:
    """A database of its own and two API processes on it, logging at DEBUG."""
    with env.own_database("apikeys_procs") as url, schema_engine(url, pool_size=1):
        environ = env.base_env(
            DATABASE_URL=url,
            API_KEYS="",
            API_KEY_SECRET=SECRET,
            LOG_LEVEL="DEBUG",
            DRAMATIQ_NAMESPACE=f"test-keys-{uuid.uuid4().hex[:8]}",
        )
        processes = [Process("api", environ, tmp_path, port=env.free_port()) for _ in range(2)]
        for i, process in enumerate(processes):
            process.label = f"api{i}"
        try:
            for process in processes:
                process.start()
            urls = [f"http://127.0.0.1:{p.port}" for p in processes]
            for url in urls:
                wait_http(f"{url}/healthz")
            yield environ, urls
        finally:
            for process in processes:
                process.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_payment(url: str, key: str) -> requests.Response:
    return requests.post(f"{url}/payments", json=payment_body(), headers=bearer(key), timeout=10)


def test_two_api_processes_scope_keys_and_drop_a_revoked_one_within_5_s(
    stack: tuple[dict[str, str], list[str]], tmp_path: Path
) -> None:
    environ, urls = stack
    front = create_key(environ, "front-end", "payments:write", "payments:read")
    back = create_key(environ, "back-office", "payments:read", "refunds:write", "events:write")

    for url in urls:
        created = post_payment(url, front)
        assert created.status_code == 201, created.text
        payment = created.json()["id"]
        assert (
            requests.get(f"{url}/payments/{payment}", headers=bearer(back), timeout=10).status_code
            == 200
        )
        refused = post_payment(url, back)  # the back office cannot sell tickets
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("insufficient-scope")
        assert 'scope="payments:write"' in refused.headers["WWW-Authenticate"]
        refund = requests.post(
            f"{url}/payments/{payment}/refunds",
            json={"amount": "1.00", "reason": "requested_by_customer"},
            headers=bearer(front),
            timeout=10,
        )
        assert refund.status_code == 403  # and the front end cannot refund
        assert post_payment(url, "pk_" + uuid.uuid4().hex).status_code == 401

    revoked = flask(environ, "keys", "revoke", "front-end")
    assert revoked.returncode == 0, revoked.stderr
    started = time.monotonic()
    refused_by: dict[str, float] = {}
    while len(refused_by) < len(urls) and time.monotonic() - started < 2 * REVOKED_WITHIN_S:
        for url in urls:
            if url not in refused_by and post_payment(url, front).status_code == 401:
                refused_by[url] = time.monotonic() - started
        time.sleep(0.1)
    assert set(refused_by) == set(urls), "a process still takes the revoked key"
    assert max(refused_by.values()) <= REVOKED_WITHIN_S
    assert max(refused_by.values()) <= KEY_CACHE_S + 1.0  # the cache, and nothing more
    assert post_payment(urls[0], back).status_code == 403  # the other key lives on

    secrets = {front, back, *(hash_key(SECRET, k).hex() for k in (front, back))}
    logs = "".join((tmp_path / f"api{i}.log").read_text() for i in range(len(urls)))
    assert "front-end" in logs  # the logs name the key
    assert not [s for s in secrets if s in logs]
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--table=api_keys", env.libpq(environ["DATABASE_URL"])],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "front-end" in dump  # the table was dumped
    assert front not in dump and back not in dump  # only hashes are stored
