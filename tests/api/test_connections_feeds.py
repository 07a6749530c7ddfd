"""Connections (state, expiry, targets) and feeds (every URL, format and kind) over the API."""

from __future__ import annotations

from datetime import timedelta

from syndicate.linkedin.models import ConnectionState


def test_connections_show_state_expiry_and_targets(api, target, session, clock):
    target.connection.state = ConnectionState.RECONNECT_NEEDED
    target.connection.state_reason = "LinkedIn refused the token"
    target.queue_slots = [{"weekday": 0, "time": "09:00"}, {"broken": True}]
    session.commit()
    clock.advance(timedelta(days=10))

    listed = api.get("/connections")
    assert listed.status_code == 200
    [connection] = listed.get_json()["items"]
    assert connection["state"] == "reconnect_needed"
    assert connection["state_reason"] == "LinkedIn refused the token"
    assert connection["expires_in_days"] == 40
    assert connection["scopes"] == ["openid", "profile", "w_member_social"]
    [shown] = connection["targets"]
    assert shown["urn"] == target.urn
    assert shown["time_zone"] == "Europe/Berlin"
    assert shown["queue_slots"] == [{"weekday": 0, "time": "09:00"}]
    assert target.connection.access_token_encrypted not in listed.get_data(as_text=True)
    assert "encrypted" not in listed.get_data(as_text=True)


def test_feeds_list_every_url_with_format_and_kind(api, make_article, session):
    make_article(categories=["World"], tags=["Climate"], authors=["Ada Writer"])
    session.commit()
    body = api.get("/feeds").get_json()
    assert body["opml_url"] == "https://news.example.test/feeds/opml.xml"
    urls = {(f["kind"], f["slug"], f["format"]): f["url"] for f in body["items"]}
    assert urls[("site", None, "rss")] == "https://news.example.test/feeds/rss.xml"
    assert urls[("category", "world", "atom")] == (
        "https://news.example.test/feeds/category/world/atom.xml"
    )
    assert urls[("tag", "climate", "json")] == "https://news.example.test/feeds/tag/climate/feed.json"
    assert ("author", "ada-writer", "rss") in urls
    assert {f["content_type"] for f in body["items"] if f["format"] == "json"} == {
        "application/feed+json"
    }
