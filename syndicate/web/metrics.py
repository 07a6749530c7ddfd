"""Prometheus metrics at /metrics, in the text exposition format written by hand.

Two kinds of numbers:

- Counters (requests by route and status, feed cache hits and misses) live in the memory of
  the process that served the request. Under gunicorn, a scrape reaches one worker, so with
  ``SYNDICATE_METRICS_DIR`` set (gunicorn.conf.py sets it) every process also writes its
  counters to a file of its own in that directory about once a second, and /metrics sums
  every file: the answer is the same whichever worker serves the scrape, at most a second
  old for the other workers. gunicorn.conf.py folds a dead worker's file into ``dead.json``
  so that totals never go down while the server runs; a restart starts them from zero,
  which Prometheus treats as a counter reset. Without the setting each process reports
  only its own counters (right for one process, such as ``syndicate serve``).
- Gauges (posts by state, dispatcher lag, outbox depth, LinkedIn connections and tokens
  near expiry) are read from the database at scrape time, so every worker agrees.

Features contribute their numbers from their ``init_app`` (``register_gauges``,
``register_counters``) with their HELP texts; this module knows no feature.

/metrics answers a client on loopback that did not come through a proxy, or a request
carrying ``Authorization: Bearer <SYNDICATE_METRICS_TOKEN>``; anyone else gets a 404.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import ipaddress
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate.clock import app_now
from syndicate.db import get_session

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FLUSH_SECONDS = 1.0
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_DEAD_FILE = "dead.json"
_LOCK_FILE = ".lock"

# (metric name, sorted label pairs) -> value
Key = tuple[str, tuple[tuple[str, str], ...]]
Source = Callable[[], Mapping[Key, float]]
# Reads a feature's gauges from the database as of now (the scrape's session and time).
Gauges = Callable[[Session, datetime], Mapping[Key, float]]

HELP = {
    "syndicate_http_requests_total": (
        "counter",
        "HTTP requests answered, by URL rule (not raw path), method and status.",
    ),
    "syndicate_metrics_processes": (
        "gauge",
        "Processes whose counters this scrape summed (live workers and dead.json).",
    ),
    "syndicate_database_up": ("gauge", "1 when the scrape could read the database."),
}


def key(name: str, **labels: str) -> Key:
    """A sample's name and labels, as /metrics stores them."""
    return name, tuple(sorted(labels.items()))


def age(moment: datetime | None, now: datetime) -> float:
    """Seconds since `moment` (0 when there is none, or it is still ahead)."""
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


class Counters:
    """Counters of one process; with a directory, shared with its sibling processes."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self.sources: list[Source] = []
        self.gauges: list[Gauges] = []
        self.help: dict[str, tuple[str, str]] = dict(HELP)
        self._values: dict[Key, float] = {}
        self._lock = threading.Lock()
        self._pid = 0
        self._file: Path | None = None
        self._flusher_pid = 0
        self._dirty = threading.Event()

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        sample = key(name, **labels)
        with self._lock:
            self._values[sample] = self._values.get(sample, 0.0) + amount
        if self.directory is not None:
            # Setting an Event takes its lock and wakes waiters; once set, a flush is due anyway.
            if not self._dirty.is_set():
                self._dirty.set()
            self._ensure_flusher()

    def own(self) -> dict[Key, float]:
        """This process's counters, including those its sources report."""
        with self._lock:
            values = dict(self._values)
        for source in self.sources:
            for key, value in source().items():
                values[key] = values.get(key, 0.0) + value
        return values

    def collect(self) -> tuple[dict[Key, float], int]:
        """Every process's counters summed, and how many processes contributed."""
        if self.directory is None:
            return self.own(), 1
        self.flush()
        total: dict[Key, float] = {}
        processes = 0
        with _locked(self.directory, fcntl.LOCK_SH):
            for path in self.directory.glob("*.json"):
                values = _read(path)
                if values is None:
                    continue
                processes += 1
                for key, value in values.items():
                    total[key] = total.get(key, 0.0) + value
        return total, processes

    def flush(self) -> None:
        """Write this process's counters to its file (atomically, by rename)."""
        if self.directory is None:
            return
        path = self._own_file()
        self._dirty.clear()
        payload = json.dumps(
            [[name, list(labels), value] for (name, labels), value in self.own().items()]
        )
        temporary = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        temporary.write_text(payload)
        os.replace(temporary, path)

    def _own_file(self) -> Path:
        assert self.directory is not None
        pid = os.getpid()
        if self._file is None or self._pid != pid:
            # A fresh name per process: a forked copy must not overwrite its parent's file,
            # nor a later process that happens to get a dead one's pid.
            self._pid, self._file = pid, self.directory / f"{pid}-{uuid.uuid4().hex}.json"
            self.directory.mkdir(parents=True, exist_ok=True)
        return self._file

    def _ensure_flusher(self) -> None:
        """One flushing thread per process (a forked worker has none until it counts)."""
        pid = os.getpid()
        if self._flusher_pid == pid:
            return
        with self._lock:
            if self._flusher_pid == pid:
                return
            self._flusher_pid = pid
            threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            self._dirty.wait()
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except OSError as exc:  # the directory vanished (shutdown, cleanup): try later
                log.debug("could not write metrics file: %s", exc)


def _read(path: Path) -> dict[Key, float] | None:
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # removed or replaced while we listed the directory
    return {(name, tuple((k, v) for k, v in labels)): float(value) for name, labels, value in rows}


@contextlib.contextmanager
def _locked(directory: Path, mode: int) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / _LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_directory(directory: str | os.PathLike[str]) -> None:
    """Start a server's run with no counters (gunicorn's on_starting hook)."""
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Someone else's directory could feed us counts, or symlinks for our writes to follow.
    if path.stat().st_uid != os.getuid():
        raise RuntimeError(f"metrics directory {path} belongs to another user")
    for old in path.glob("*.json"):
        old.unlink(missing_ok=True)


def fold_dead_process(directory: str | os.PathLike[str], pid: int) -> None:
    """Add a dead worker's counters to dead.json and remove its file (gunicorn's child_exit)."""
    path = Path(directory)
    with _locked(path, fcntl.LOCK_EX):
        files = list(path.glob(f"{pid}-*.json"))
        if not files:
            return
        total = _read(path / _DEAD_FILE) or {}
        for file in files:
            for key, value in (_read(file) or {}).items():
                total[key] = total.get(key, 0.0) + value
        temporary = path / f".{_DEAD_FILE}.tmp"
        temporary.write_text(json.dumps([[n, list(labels), v] for (n, labels), v in total.items()]))
        os.replace(temporary, path / _DEAD_FILE)
        for file in files:
            file.unlink(missing_ok=True)


# --- the text format --------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(values: Mapping[Key, float], help: Mapping[str, tuple[str, str]] = HELP) -> str:
    """The Prometheus text exposition format (0.0.4), one HELP/TYPE block per metric."""
    by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = {}
    for (name, labels), value in values.items():
        by_name.setdefault(name, []).append((labels, value))
    lines: list[str] = []
    for name in sorted(by_name):
        kind, text = help.get(name, ("untyped", name))
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in sorted(by_name[name]):
            inside = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(
                f"{name}{{{inside}}} {_number(value)}" if inside else f"{name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


# --- the app side -----------------------------------------------------------------------

bp = Blueprint("metrics", __name__)


def counters(app: Flask | None = None) -> Counters:
    found: Counters = (app or current_app).extensions["metrics"]
    return found


def register_gauges(app: Flask, read: Gauges, help: Mapping[str, str]) -> None:
    """A feature's gauges, read from the database at every scrape; `help` names each one."""
    store = counters(app)
    store.gauges.append(read)
    store.help.update({name: ("gauge", text) for name, text in help.items()})


def register_counters(app: Flask, read: Source, help: Mapping[str, str]) -> None:
    """Counters a feature keeps in this process's memory; `help` names each one."""
    store = counters(app)
    store.sources.append(read)
    store.help.update({name: ("counter", text) for name, text in help.items()})


@bp.get("/metrics")
def metrics() -> Response:
    _authorise()
    store = counters()
    values, processes = store.collect()
    values[key("syndicate_metrics_processes")] = processes
    try:
        session, now = get_session(), app_now()
        for read in store.gauges:
            values.update(read(session, now))
        values[key("syndicate_database_up")] = 1
    except SQLAlchemyError as exc:
        log.warning("metrics: database unreadable: %s", exc.__class__.__name__)
        with contextlib.suppress(SQLAlchemyError):
            get_session().rollback()
        values[key("syndicate_database_up")] = 0
    return Response(
        render(values, store.help), content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"}
    )


def _authorise() -> None:
    """A loopback client that came through no proxy, or the metrics bearer token."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    header = request.headers.get("Authorization", "")
    if token and header:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return
        abort(403, "That metrics token is not valid.")
    if _direct_loopback():
        return
    abort(404)


def _direct_loopback() -> bool:
    # A reverse proxy on the same host connects from loopback too; its forwarding headers
    # tell such requests apart (nginx always sets X-Forwarded-For in docs/deploy.md).
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _count_request(response: Response) -> Response:
    rule = request.url_rule
    count_request(
        counters(), rule.rule if rule is not None else None, request.method, response.status_code
    )
    return response


def count_request(store: Counters, route: str | None, method: str, status: int) -> None:
    """One more request of ``route`` (Flask's rule) in syndicate_http_requests_total."""
    store.inc(
        "syndicate_http_requests_total",
        route=route if route is not None else "(unmatched)",
        method=method if method in _METHODS else "OTHER",
        status=str(status),
    )


def init_app(app: Flask) -> Counters:
    """Count every request, serve /metrics; counters shared through METRICS_DIR if set."""
    store = Counters(app.config.get("METRICS_DIR") or None)
    app.extensions["metrics"] = store
    app.after_request(_count_request)
    app.register_blueprint(bp)
    return store
