"""Fixtures of the article tests: the publisher's site served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.articles.publisher_site import PublisherSite


@pytest.fixture
def publisher_site() -> Iterator[PublisherSite]:
    with PublisherSite() as site:
        yield site
