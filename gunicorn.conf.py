"""gunicorn settings for syndicate: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value comes from an environment variable (see docs/deploy.md), so systemd units and
Procfiles only set variables. The app logs its own access line (with the request id), so
gunicorn's access log is off and gunicorn's messages go through the app's log format.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from syndicate.web import logging as app_logging
from syndicate.web import metrics

# Memory-backed; gunicorn (mkstemp) and mkdtemp below create unpredictable names in it.
_SHM = "/dev/shm"  # noqa: S108  # nosec B108


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours cgroup/taskset limits
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Where to listen: behind nginx on the same host, loopback only.
bind = os.environ.get("SYNDICATE_BIND", "127.0.0.1:8000").split(",")
# Sync workers: each serves one request at a time and holds one database connection plus
# the feed cache's LISTEN connection, so PostgreSQL needs
# max_connections > 2 x workers x hosts + scheduler processes + a margin.
workers = _int("SYNDICATE_WORKERS", _int("WEB_CONCURRENCY", min(2 * _cpus() + 1, 8)))
threads = _int("SYNDICATE_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# Feed, page and API requests finish in well under a second; 30 s covers a slow database.
timeout = _int("SYNDICATE_WORKER_TIMEOUT", 30)
# On SIGTERM, let requests in flight finish (systemd's TimeoutStopSec must be longer).
graceful_timeout = _int("SYNDICATE_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then (0: never); jitter keeps them from restarting together.
max_requests = _int("SYNDICATE_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# The heartbeat file lives in memory: a slow or full disk must not get workers killed.
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# Trust X-Forwarded-Proto only from the proxy on this host; client addresses are taken
# from X-Forwarded-For by the app (SYNDICATE_PROXY_FIX_X_FOR), not by gunicorn.
forwarded_allow_ips = os.environ.get("SYNDICATE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Requests larger than this never reach a worker (the app caps bodies at 2 MB too).
limit_request_line = 8190
limit_request_fields = 100
# The app writes one access line per request itself.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("SYNDICATE_LOG_LEVEL", "info").lower()
logconfig_dict = app_logging.dict_config(
    os.environ.get("SYNDICATE_LOG_FORMAT", "text").strip().lower() or "text",
    loglevel,
)
proc_name = "syndicate-web"
# Each worker builds its own app (and database pool) after the fork.
preload_app = False

# Workers share their request counters through files in memory (see syndicate/web/metrics.py):
# a private directory (mode 0700, unpredictable name) per master process, so two servers on
# one host never mix their counts. A reload re-reads this file and keeps the directory.
if "SYNDICATE_METRICS_DIR" not in os.environ:
    os.environ["SYNDICATE_METRICS_DIR"] = tempfile.mkdtemp(
        prefix="syndicate-metrics-", dir=_SHM if os.path.isdir(_SHM) else None
    )
_metrics_dir_is_ours = Path(os.environ["SYNDICATE_METRICS_DIR"]).name.startswith(
    "syndicate-metrics-"
)


def on_starting(server: object) -> None:
    """Start every run with empty counters."""
    metrics.prepare_directory(os.environ["SYNDICATE_METRICS_DIR"])


def child_exit(server: object, worker: object) -> None:
    """Keep a dead worker's counts (totals must not go down) in one file."""
    metrics.fold_dead_process(os.environ["SYNDICATE_METRICS_DIR"], worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    if _metrics_dir_is_ours:
        shutil.rmtree(os.environ["SYNDICATE_METRICS_DIR"], ignore_errors=True)
