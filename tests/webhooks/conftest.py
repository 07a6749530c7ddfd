"""Webhook fixtures: a real receiver on 127.0.0.1 that checks signatures and can misbehave."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from syndicate.webhooks import services


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    # Whether the receiver found the signature valid for its secret (None: no secret set).
    signed_ok: bool | None = None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


def signature_is_valid(secret: str, header: str, body: bytes) -> bool:
    """A receiver's check, written independently of syndicate's own code."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "v1" not in fields:
        return False
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


class Receiver:
    """Records every POST; answers with the queued statuses (then 200), optionally slowly.

    Given a secret, it checks each signature as a real receiver would and answers 401 to a
    bad one.
    """

    def __init__(self) -> None:
        self.secret: str | None = None
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.delays: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signed_ok = None
                if receiver.secret is not None:
                    header = self.headers.get("Syndicate-Signature", "")
                    signed_ok = signature_is_valid(receiver.secret, header, body)
                receiver.received.append(Received(dict(self.headers.items()), body, signed_ok))
                delay = receiver.delays.pop(0) if receiver.delays else 0.0
                if delay:
                    time.sleep(delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if signed_ok is False:
                    status = 401
                answer = json.dumps({"ok": status < 300}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.close()


@pytest.fixture
def make_endpoint(session, app, clock, admin):  # noqa: ANN001, ANN201
    """An endpoint made by the service; returns (endpoint, secret)."""

    def make(url: str, kinds: list[str] | None = None, **fields: object):  # noqa: ANN202
        endpoint, secret = services.create_endpoint(
            session,
            services.EndpointInput(url=url, event_kinds=kinds or list(services.EVENT_KINDS),
                                   **fields),  # type: ignore[arg-type]
            vault=app.extensions["token_vault"],
            user=admin,
            now=clock.now(),
            allow_private=True,
        )
        session.commit()
        return endpoint, secret

    return make
