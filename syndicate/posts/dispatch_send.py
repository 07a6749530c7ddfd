"""Sending a claimed post: its token, its card's picture, the fence before the request,
and the Posts API body."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.crypto import TokenVault, UndecryptableSecret
from syndicate.db import Database
from syndicate.fetch import Fetcher, FetchError
from syndicate.linkedin import client as li
from syndicate.linkedin import services as connections
from syndicate.linkedin.models import ConnectionState, LinkedInConnection
from syndicate.linkedin.text import escape_little_text
from syndicate.posts.dispatch_claim import Claim, Claiming, Job
from syndicate.posts.dispatch_sql import START_REQUEST
from syndicate.posts.models import LinkedInImage, Post, PostState

if TYPE_CHECKING:
    from syndicate.posts.dispatcher import DispatchSettings

log = logging.getLogger(__name__)


class Sending(Claiming):
    """What happens between a claim and LinkedIn's answer (part of ``Dispatcher``)."""

    database: Database
    client: li.LinkedInClient
    vault: TokenVault
    fetcher: Fetcher | None
    settings: DispatchSettings
    _tokens: dict[str, str]

    if TYPE_CHECKING:
        # Recording's; Dispatcher joins the two.
        def _wait(self, session: Session, claim: Claim, now: datetime, detail: str) -> str: ...

    def _token(self, job: Job, claim: Claim, now: datetime) -> str | None:
        """The plaintext token; None (and the post back to waiting) when it cannot be had."""
        if job.connection_state is ConnectionState.ACTIVE and job.token_encrypted:
            # One decryption per token and run: a batch's posts mostly share a connection.
            token = self._tokens.get(job.token_encrypted)
            if token is not None:
                return token
            try:
                token = self._tokens[job.token_encrypted] = self.vault.decrypt(job.token_encrypted)
                return token
            except UndecryptableSecret:
                pass
        with self._write() as session:
            connection = session.get_one(LinkedInConnection, job.connection_id)
            try:
                return connections.access_token(session, connection, vault=self.vault, now=now)
            except connections.ReconnectNeeded as exc:
                self._wait(session, claim, now, f"waiting: {exc}")
                return None

    def _start_request(self, session: Session, claim: Claim, now: datetime) -> bool:
        """The fence: committed before the request leaves, impossible for a stale worker."""
        changed = (
            session.connection()
            .execute(
                START_REQUEST,
                self._fence_params(claim, b_now=now, b_until=now + self.settings.lease),
            )
            .rowcount
        )
        if changed != 1:
            # Nothing was changed, so nothing needs undoing (the transaction may carry the
            # record of the previous post).
            log.warning("post %s: lease lost before sending; another worker has it", claim.post_id)
            return False
        return True

    def _over_daily_cap(self, session: Session, job: Job, now: datetime) -> bool:
        if not job.daily_cap:
            return False
        zone = ZoneInfo(job.time_zone)
        local = now.astimezone(zone)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(
            ZoneInfo("UTC")
        )
        sent = (
            session.scalar(
                select(func.count())
                .select_from(Post)
                .where(
                    Post.target_id == job.target_id,
                    Post.state == PostState.PUBLISHED,
                    Post.published_at >= day_start,
                )
            )
            or 0
        )
        return sent >= job.daily_cap

    def _thumbnail(self, job: Job, claim: Claim, token: str, now: datetime) -> str | None:
        """The image URN for the card, uploaded once per article and owner and reused."""
        if not job.thumbnail_url:
            return None
        if job.image_urn:  # found by the claim
            return job.image_urn
        key = (
            LinkedInImage.article_id == job.article_id,
            LinkedInImage.owner_urn == job.target_urn,
            LinkedInImage.source_url == job.thumbnail_url,
        )
        with self.database.transaction() as session:
            cached = session.scalar(select(LinkedInImage.image_urn).where(*key))
        if cached:
            return cached
        # The upload is a request of its own: the post LinkedIn accepted last is recorded
        # before it, not after.
        self._flush()
        try:
            data = self._image_bytes(job.thumbnail_url)
            upload = self.client.initialize_image_upload(token, job.target_urn)
            image = self.client.upload_image(token, upload, data)
        except (FetchError, li.LinkedInError, OSError) as exc:
            # A card without its picture is better than no post: say so and go on.
            with self._write() as session:
                self._history(
                    session,
                    job.post_id,
                    PostState.SENDING,
                    PostState.SENDING,
                    claim.attempt,
                    now,
                    f"thumbnail not attached: {exc}",
                )
            return None
        with self._write() as session:
            if session.scalar(select(LinkedInImage.id).where(*key)) is None:
                session.add(
                    LinkedInImage(
                        article_id=job.article_id,
                        owner_urn=job.target_urn,
                        source_url=job.thumbnail_url,
                        image_urn=image,
                        uploaded_at=now,
                    )
                )
        return image

    def _image_bytes(self, url: str) -> bytes:
        own_static = self.settings.site_url + "/static/"
        if self.settings.static_folder and url.startswith(own_static):
            # Our own files are read from disk: no request to ourselves.
            path = (self.settings.static_folder / url.removeprefix(own_static)).resolve()
            if self.settings.static_folder.resolve() in path.parents and path.is_file():
                return path.read_bytes()
        if self.fetcher is None:
            raise FetchError("no fetcher configured for remote thumbnails")
        return self.fetcher.get(url).body


def post_body(post: Post | Job, *, author: str, thumbnail: str | None) -> dict[str, Any]:
    """The Posts API body: an article card LinkedIn cannot scrape itself, so we fill it."""
    article: dict[str, Any] = {"source": post.link_url, "title": post.card_title}
    if post.card_description:
        article["description"] = post.card_description
    if thumbnail:
        article["thumbnail"] = thumbnail
    return {
        "author": author,
        "commentary": escape_little_text(post.commentary),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "content": {"article": article},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
