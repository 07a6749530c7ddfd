import pytest
from cryptography.fernet import Fernet

from syndicate.config import ConfigError, read_environment, resolve, site_name


def test_production_refuses_to_start_without_secrets_naming_each(tmp_path):
    with pytest.raises(ConfigError) as caught:
        resolve({"ENV": "production", "SITE_URL": ""}, tmp_path)
    message = str(caught.value)
    for name in ("SYNDICATE_SECRET_KEY", "SYNDICATE_SITE_URL", "SYNDICATE_TOKEN_KEYS",
                 "SYNDICATE_SHARING_SIGNING_KEY"):
        assert name in message


def test_production_starts_with_every_required_setting(tmp_path):
    values = resolve(
        {
            "ENV": "production",
            "SECRET_KEY": "s" * 40,
            "SITE_URL": "https://news.example/",
            "TOKEN_KEYS": Fernet.generate_key().decode(),
            "SHARING_SIGNING_KEY": "B" * 43 + "=",
        },
        tmp_path,
    )
    assert values["SITE_URL"] == "https://news.example"
    assert not (tmp_path / "secret_key").exists()


def test_development_keeps_generated_secrets_stable_across_processes(tmp_path):
    first = resolve({}, tmp_path)
    second = resolve({}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["TOKEN_KEYS"] == second["TOKEN_KEYS"]
    assert first["DATABASE_URL"].startswith("sqlite:///")


def test_malformed_values_are_named(tmp_path):
    with pytest.raises(ConfigError, match="SYNDICATE_PAGE_SIZE"):
        resolve({"PAGE_SIZE": "many"}, tmp_path)
    with pytest.raises(ConfigError, match="SYNDICATE_TOKEN_KEYS"):
        resolve({"TOKEN_KEYS": "not-a-fernet-key"}, tmp_path)


def test_only_prefixed_known_variables_are_read():
    env = {"SYNDICATE_SITE_URL": "https://a.example", "SITE_URL": "x", "SYNDICATE_NOPE": "1"}
    assert read_environment(env) == {"SITE_URL": "https://a.example"}


def test_malformed_rate_limits_stop_start_up(tmp_path):
    with pytest.raises(ConfigError, match="SYNDICATE_SHARING_RATE_LIMIT_IP"):
        resolve({"SHARING_RATE_LIMIT_IP": "lots"}, tmp_path)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("FEED_ITEMS", "twenty", "a whole number"),
        ("FEED_ITEMS", "0", "1 to 500"),
        ("FEED_TTL_MINUTES", "-5", "1 to 1440"),
    ],
)
def test_feed_settings_outside_their_range_stop_start_up(tmp_path, name, value, reason):
    with pytest.raises(ConfigError, match=f"SYNDICATE_{name} is malformed: expected {reason}"):
        resolve({name: value}, tmp_path)


def test_feed_settings_come_from_the_environment(tmp_path):
    from syndicate.feeds.context import FeedSettings

    values = resolve(read_environment({"SYNDICATE_FEED_ITEMS": "50",
                                       "SYNDICATE_FEED_TTL_MINUTES": "60",
                                       "SYNDICATE_FEED_TITLE": "F5mag"}), tmp_path)
    settings = FeedSettings.from_config(values)
    assert (settings.items, settings.max_age, settings.title) == (50, 3600, "F5mag")


@pytest.mark.parametrize(
    "raw, site, feeds, publisher",
    [
        ({}, "news.example.org", "news.example.org", "news.example.org"),
        ({"SITE_NAME": "F5mag"}, "F5mag", "F5mag", "F5mag"),
        # Before SITE_NAME existed, FEED_TITLE named the publisher too; it still does.
        ({"FEED_TITLE": "F5mag"}, "F5mag", "F5mag", "F5mag"),
        (
            {"SITE_NAME": "F5mag", "FEED_TITLE": "F5mag: every article",
             "SHARING_PUBLISHER_NAME": "F5 Media Ltd"},
            "F5mag", "F5mag: every article", "F5 Media Ltd",
        ),
    ],
)
def test_the_publications_name_and_what_falls_back_to_it(tmp_path, raw, site, feeds, publisher):
    from syndicate.feeds.context import FeedSettings
    from syndicate.sharing.context import SharingSettings

    config = resolve({"SITE_URL": "https://news.example.org", **raw}, tmp_path)
    assert site_name(config) == site
    assert FeedSettings.from_config(config).title == feeds
    assert SharingSettings.from_config(config).publisher_name == publisher


@pytest.mark.parametrize("zone", ["Mars/Olympus", "localtime", "europe/berlin", "../etc/passwd"])
def test_an_unknown_time_zone_stops_start_up_naming_setting_and_value(tmp_path, zone):
    with pytest.raises(ConfigError, match="SYNDICATE_TIME_ZONE is malformed") as caught:
        resolve({"TIME_ZONE": zone}, tmp_path)
    assert repr(zone) in str(caught.value)


def test_a_known_time_zone_is_kept(tmp_path):
    assert resolve({"TIME_ZONE": " Europe/Berlin "}, tmp_path)["TIME_ZONE"] == "Europe/Berlin"


def test_syndicate_settings_and_doctor_refuse_an_unknown_time_zone(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SYNDICATE_TIME_ZONE": "Mars/Olympus",
        "SYNDICATE_INSTANCE_PATH": str(tmp_path),
    }
    for command in (["settings"], ["doctor"]):
        run = subprocess.run(
            [sys.executable, "-m", "syndicate", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode != 0, command
        assert "SYNDICATE_TIME_ZONE" in run.stdout + run.stderr
        assert "Mars/Olympus" in run.stdout + run.stderr


@pytest.mark.parametrize("value", ["1m", "91d", "forever", "-1h"])
def test_a_session_lifetime_out_of_range_stops_start_up(tmp_path, value):
    with pytest.raises(ConfigError, match="SYNDICATE_SESSION_LIFETIME is malformed"):
        resolve({"SESSION_LIFETIME": value}, tmp_path)


def test_the_session_lifetime_defaults_to_14_days(tmp_path):
    from datetime import timedelta

    assert resolve({}, tmp_path)["SESSION_LIFETIME"] == timedelta(days=14)
    assert resolve({"SESSION_LIFETIME": "8h"}, tmp_path)["SESSION_LIFETIME"] == timedelta(hours=8)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("hourly", "such as '1h until 2d"),
        ("1h until 2d, 1d until 1d", "greater than the one before"),
        ("1m until 2d", "at most every 5 minutes"),
        ("1x until 2d", "a duration"),
    ],
)
def test_a_malformed_statistics_schedule_stops_start_up(tmp_path, value, reason):
    with pytest.raises(ConfigError, match=f"SYNDICATE_POST_STATS_SCHEDULE is malformed: .*{reason}"):
        resolve({"POST_STATS_SCHEDULE": value}, tmp_path)


def test_the_statistics_schedule_is_read_as_steps(tmp_path):
    from datetime import timedelta

    values = resolve({"POST_STATS_SCHEDULE": "30m until 1d, 12h until 14d"}, tmp_path)
    assert list(values["POST_STATS_SCHEDULE"]) == [
        (timedelta(minutes=30), timedelta(days=1)),
        (timedelta(hours=12), timedelta(days=14)),
    ]
    assert repr(values["POST_STATS_SCHEDULE"]) == "'30m until 1d, 12h until 14d'"
    assert resolve({}, tmp_path)["POST_STATS_SCHEDULE"][0] == (timedelta(hours=1), timedelta(days=2))
