"""What the benchmarks share: free ports, databases of their own, gunicorn under test."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Databases:
    """Fresh databases for one run: SQLite files in ``directory``, or, given a PostgreSQL URL,
    databases created beside it and dropped by ``close``."""

    def __init__(self, server_url: str | None, directory: Path | str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.directory = Path(directory)
        self.created: list[str] = []
        self.admin = None
        if server_url:
            self.server = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
            self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")

    def new(self, prefix: str = "syndicate_bench") -> str:
        """The URL of a new, empty database."""
        from sqlalchemy import text

        name = f"{prefix}_{secrets.token_hex(4)}"
        if self.admin is None:
            return f"sqlite:///{self.directory / name}.db"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        from sqlalchemy import text

        if self.admin is not None:
            with self.admin.connect() as conn:
                for name in self.created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.admin.dispose()


def serve_gunicorn(
    app: str, env: dict[str, str], *, workers: int = 2, log: IO[bytes] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn serving ``app`` ("module:factory()" from bench/) on a free loopback port,
    once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--pythonpath", str(ROOT / "bench"), "--log-level", "warning", app],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT if log else None,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
