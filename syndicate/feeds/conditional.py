"""What a conditional GET of a feed needs: its bytes in both encodings, a strong ETag for
each, Last-Modified, and the headers of a 200 and of a 304 (views.py answers with them).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from werkzeug.http import http_date


@dataclass(frozen=True)
class RenderedFeed:
    """The bytes of one feed in both encodings, with everything its HTTP headers need."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    content_type: str
    max_age: int
    is_archive: bool
    self_url: str
    hub_url: str | None
    item_count: int
    version: int

    @cached_property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    @cached_property
    def not_modified_headers(self) -> tuple[tuple[str, str], ...]:
        """What a 304 repeats of a 200 besides ETag: the fields that update caches.

        RFC 9110 (15.4.5) lists Cache-Control, Vary, Expires, Content-Location and Date;
        other metadata should not be sent with a 304.
        """
        cache_control = f"public, max-age={self.max_age}" + (
            ", immutable" if self.is_archive else ""
        )
        return (("Cache-Control", cache_control), ("Vary", "Accept-Encoding"))

    @cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The headers of a 200 in either encoding (ETag and encoding apart)."""
        headers = [("Last-Modified", http_date(self.last_modified)), *self.not_modified_headers]
        if self.hub_url:
            headers.append(("Link", f'<{self.hub_url}>; rel="hub"'))
        headers.append(("Link", f'<{self.self_url}>; rel="self"'))
        return tuple(headers)


def rendered(body: bytes, **fields: Any) -> RenderedFeed:
    """A feed's bytes with their ETag and gzip encoding; ``fields`` are RenderedFeed's rest."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    # mtime=0 keeps the compressed bytes identical across renders and processes.
    return RenderedFeed(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{digest}"',
        **fields,
    )
