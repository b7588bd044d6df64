"""Starting a private PostgreSQL cluster in `.run/pg` (as the `postgres` user when root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
from pathlib import Path

from devstack import probe
from devstack.embedded import START_TIMEOUT, Launch, MissingProgram, StartFailed, await_ready
from devstack.procs import Child, spawn, wait_until
from devstack.settings import HostPort, url_user


def postgres_bindir() -> Path:
    """The directory holding initdb and postgres (newest version first)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for directory in [*candidates, *(str(Path(p).parent) for p in [shutil.which("initdb")] if p)]:
        if (Path(directory) / "initdb").is_file() and (Path(directory) / "postgres").is_file():
            return Path(directory)
    raise MissingProgram(
        "PostgreSQL server not found: apt-get install postgresql (or set DATABASE_URL)"
    )


def _version_key(path: str) -> float:
    version = Path(path).parent.name
    try:
        return float(version)
    except ValueError:
        return 0.0


def start_postgres(address: HostPort, url: str, launch: Launch) -> Child:
    """Start a private cluster in `.run/pg` (initdb on first use), then create the database."""
    bindir = postgres_bindir()
    datadir = (launch.run_dir / "pg").resolve()
    os_user = _postgres_os_user()
    if not (datadir / "PG_VERSION").is_file():
        datadir.mkdir(parents=True, exist_ok=True)
        if os_user is not None:
            record = pwd.getpwnam(os_user)
            os.chown(datadir, record.pw_uid, record.pw_gid)
        datadir.chmod(0o700)
        argv = [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            url_user(url, "postgres"),
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]
        init = spawn("initdb", argv, log_file=launch.run_dir / "logs" / "initdb.log", user=os_user)
        assert init.popen is not None
        if init.popen.wait() != 0:
            raise StartFailed(f"initdb failed; see {launch.run_dir / 'logs' / 'initdb.log'}")
    argv = [
        str(bindir / "postgres"),
        "-D",
        str(datadir),
        "-p",
        str(address.port),
        "-c",
        f"listen_addresses={address.host}",
        "-c",
        f"unix_socket_directories={datadir}",
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
    ]
    child = spawn(
        "postgres",
        argv,
        log_file=launch.log_file("postgres"),
        stop_signal=signal.SIGINT,
        user=os_user,
        cwd=datadir,
    )
    return await_ready(
        child, launch, wait_until(lambda: probe.postgres_answers(url), START_TIMEOUT)
    )


def _postgres_os_user() -> str | None:
    """The OS user to run PostgreSQL as: `postgres` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise MissingProgram(
            "running as root needs a `postgres` OS user: useradd postgres"
        ) from None
    return "postgres"
