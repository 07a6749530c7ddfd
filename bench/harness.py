"""What the benchmarks share: free ports, databases of their own, gunicorn under test, the
load generator (wrk) and the rounds that alternate the app with its baseline."""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WRK_SCRIPT = BENCH / "wrk" / "request.lua"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, for the record beside each figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


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


# ---------------------------------------------------------------------------------------------
# Servers: the app and its ceiling run under the same gunicorn.conf.py, so worker count and
# class, keep-alive, timeouts and the heartbeat directory are the same for both.


def serve_gunicorn(
    app: str, env: dict[str, str], *, workers: int = 2, log: IO[bytes] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn with the project's gunicorn.conf.py serving ``app`` ("wsgi:app", or
    "module:factory()" from bench/) with ``workers`` sync workers on a free loopback port,
    once /healthz answers."""
    port = free_port()
    settings = {
        "SYNDICATE_BIND": f"127.0.0.1:{port}",
        "SYNDICATE_WORKERS": str(workers),
        "SYNDICATE_THREADS": "1",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}",
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app],
        cwd=ROOT,
        env={**os.environ, **env, **settings},
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn serving {app} exited with {process.returncode}")
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


# ---------------------------------------------------------------------------------------------
# Requests, and the answers the bare app (bench/bare_app.py) replays


@dataclass(frozen=True)
class Request:
    """One request the load generator repeats. ``{n}`` in a header value or the body becomes
    a number unique to each request (a new visitor, a new email address)."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    expect: int = 200

    def at(self, path: str) -> Request:
        """The same request (headers, body, expected status) sent to another path."""
        return Request(path, self.method, self.headers, self.body, self.expect)


HOP_BY_HOP = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length"}


def send(port: int, request: Request, n: int = 0) -> http.client.HTTPResponse:
    """Send ``request`` once (``{n}`` replaced by ``n``); the answer, its body read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {k: v.replace("{n}", str(n)) for k, v in request.headers.items()}
    conn.request(
        request.method,
        request.path,
        body=request.body.replace(b"{n}", b"%d" % n) or None,
        headers=headers,
    )
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def record(port: int, request: Request, directory: Path, name: str) -> http.client.HTTPResponse:
    """Send ``request`` to the app and keep its answer (status, headers but the hop-by-hop
    ones, body) in ``directory`` for bare_app.py to replay at /bare/<name>."""
    response = send(port, request)
    if response.status != request.expect:
        raise SystemExit(
            f"{request.method} {request.path} answered {response.status}, not {request.expect}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
    (directory / f"{name}.json").write_text(
        json.dumps({"status": response.status, "headers": headers})
    )
    (directory / f"{name}.body").write_bytes(response.body)  # type: ignore[attr-defined]
    return response


def describe(response: http.client.HTTPResponse) -> str:
    """Status, body size, encoding and header bytes of an answer (to show both sides match)."""
    header_bytes = sum(
        len(k) + len(v) + 4 for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP
    )
    encoding = response.getheader("Content-Encoding") or "identity"
    return (
        f"{response.status}, {len(response.body)} bytes {encoding}, "  # type: ignore[attr-defined]
        f"{header_bytes} bytes of headers"
    )


# ---------------------------------------------------------------------------------------------
# Load generation: wrk, or a Python fallback that says so


@dataclass(frozen=True)
class Load:
    threads: int = 1
    connections: int = 8
    seconds: float = 5.0
    wrk: str | None = None


@dataclass(frozen=True)
class Figures:
    """What one load run measured."""

    per_second: float
    p50_ms: float
    p99_ms: float
    unexpected: int = 0  # answers with another status than the one expected
    errors: int = 0  # connect, read, write errors and timeouts

    def __str__(self) -> str:
        text = f"{self.per_second:8.0f}/s p50 {self.p50_ms:6.2f} ms p99 {self.p99_ms:6.2f} ms"
        if self.unexpected or self.errors:
            text += f" [{self.unexpected} unexpected status, {self.errors} errors]"
        return text


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """--threads, --connections, --seconds, --rounds, --python-load."""
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="wrk -c (default 8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk -d (default 5)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds alternating app and baseline; figures are their median",
    )
    parser.add_argument(
        "--python-load",
        action="store_true",
        help="use the Python load generator even when wrk is installed",
    )


def load_from(args: argparse.Namespace) -> Load:
    """The load generator the options ask for; wrk is installed with apt-get when missing."""
    wrk = None if args.python_load else find_wrk()
    load = Load(args.threads, args.connections, args.seconds, wrk)
    if wrk:
        print(
            f"load generator: {wrk} -t{load.threads} -c{load.connections} -d{load.seconds:g}s",
            flush=True,
        )
    else:
        print(
            "load generator: PYTHON FALLBACK (wrk unavailable or --python-load): it runs on "
            "the same cores as the servers and pulls every ratio toward 1",
            flush=True,
        )
    return load


def find_wrk() -> str | None:
    wrk = shutil.which("wrk")
    if wrk is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],  # noqa: S607
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
            check=False,
        )
        wrk = shutil.which("wrk")
    return wrk


def drive(load: Load, port: int, request: Request, seconds: float | None = None) -> Figures:
    """Repeat ``request`` against 127.0.0.1:``port`` for ``seconds`` (default: the load's)."""
    seconds = load.seconds if seconds is None else seconds
    if load.wrk:
        return _wrk(load, port, request, seconds)
    return _python_load(load, port, request, seconds)


def _wrk(load: Load, port: int, request: Request, seconds: float) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        headers = Path(tmp) / "headers"
        headers.write_text("".join(f"{k}: {v}\n" for k, v in request.headers.items()))
        body = Path(tmp) / "body"
        body.write_bytes(request.body)
        env = {
            **os.environ,
            "BENCH_METHOD": request.method,
            "BENCH_EXPECT": str(request.expect),
            "BENCH_HEADERS_FILE": str(headers),
            "BENCH_BODY_FILE": str(body) if request.body else "",
        }
        out = subprocess.run(  # noqa: S603
            [
                load.wrk,
                f"-t{load.threads}",
                f"-c{load.connections}",
                f"-d{seconds:g}s",
                "-s",
                str(WRK_SCRIPT),
                f"http://127.0.0.1:{port}{request.path}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    match = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk said:\n{out}")
    requests, micros, p50, p99, unexpected, errors = map(int, match.groups())
    return Figures(requests / (micros / 1e6), p50 / 1000, p99 / 1000, unexpected, errors)


def _client(args: tuple[int, Request, float, int]) -> tuple[list[float], int, int]:
    port, request, seconds, worker = args
    latencies, unexpected, errors = [], 0, 0
    deadline = time.monotonic() + seconds
    n = worker * 10_000_000
    while time.monotonic() < deadline:
        n += 1
        started = time.perf_counter()
        try:
            status = send(port, request, n).status
        except OSError:
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
        unexpected += status != request.expect
    return latencies, unexpected, errors


def _python_load(load: Load, port: int, request: Request, seconds: float) -> Figures:
    with multiprocessing.Pool(load.connections) as pool:
        results = pool.map(_client, [(port, request, seconds, w) for w in range(load.connections)])
    latencies = sorted(x for r in results for x in r[0])
    if not latencies:
        return Figures(0, 0, 0, 0, sum(r[2] for r in results))
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return Figures(
        len(latencies) / seconds,
        q[49] * 1000,
        q[98] * 1000,
        sum(r[1] for r in results),
        sum(r[2] for r in results),
    )


# ---------------------------------------------------------------------------------------------
# Rounds: the app and its baseline take turns, so a slow spell on a shared machine falls on
# both; each round is printed, then the medians and the median of the per-round ratios.


@dataclass
class Comparison:
    name: str
    goal: str  # ">= 0.8" or "<= 2"
    unit: str = "/s"
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (app, baseline)

    @property
    def ratio(self) -> float:
        return statistics.median(app / base for app, base in self.rounds)

    @property
    def meets(self) -> bool:
        op, value = self.goal.split()
        return self.ratio >= float(value) if op == ">=" else self.ratio <= float(value)


def alternate(
    name: str,
    goal: str,
    rounds: int,
    app: Callable[[], Figures],
    baseline: Callable[[], Figures],
    *,
    labels: tuple[str, str] = ("app", "bare"),
    unit: str = "/s",
) -> Comparison:
    """Run ``app`` and ``baseline`` ``rounds`` times, alternating which goes first."""
    comparison = Comparison(name, goal, unit)
    print(f"\n{name}  (ratio {labels[0]}/{labels[1]}, goal {goal})", flush=True)
    for number in range(rounds):
        order = [(0, app), (1, baseline)]
        if number % 2:
            order.reverse()
        figures: dict[int, Figures] = {}
        loads = load_average()
        for side, run in order:
            figures[side] = run()
        ratio = figures[0].per_second / figures[1].per_second
        comparison.rounds.append((figures[0].per_second, figures[1].per_second))
        print(
            f"  round {number + 1} ({loads}): {labels[0]} {figures[0]} | {labels[1]} "
            f"{figures[1]} | ratio {ratio:.2f}",
            flush=True,
        )
    return comparison


def report(comparisons: list[Comparison]) -> None:
    """The table of medians and ratios against their goals."""
    print(f"\nmedian of the rounds ({load_average()} at the end)")
    width = max(len(c.name) for c in comparisons)
    for c in comparisons:
        app = statistics.median(a for a, _ in c.rounds)
        base = statistics.median(b for _, b in c.rounds)
        verdict = "meets" if c.meets else "BELOW GOAL"
        print(
            f"  {c.name:<{width}}  {app:9.2f} vs {base:9.2f}{c.unit}  ratio {c.ratio:6.2f}  "
            f"goal {c.goal}: {verdict}",
            flush=True,
        )
