"""The dashboard's CSV import: explain, check (a dry run with a table), schedule all or nothing."""

from __future__ import annotations

import base64
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from syndicate.posts import bulk
from syndicate.posts.models import Post

HEADER = "article,target,time,commentary\n"
PAGE = "/dashboard/posts/import"


@pytest.fixture
def editor(staff_user):
    return staff_user(email="editor@example.test", time_zone="Europe/Berlin")


@pytest.fixture
def acme(make_target):
    return make_target(
        display_name="Acme Page",
        time_zone="Europe/Berlin",
        queue_slots=[{"weekday": 2, "time": "12:30"}],
    )


@pytest.fixture
def good_csv(make_article, session, acme) -> bytes:
    one = make_article(title="First story")
    two = make_article(title="Second story")
    session.commit()
    return (
        HEADER
        + f"{one.id},Acme Page,2026-03-10 14:00,<b>Bold</b> claim\n"
        + f"{two.id},Acme Page,next slot,\n"
    ).encode()


def multipart(data: bytes, button: str, **fields: str) -> bytes:
    """A form with a file, encoded by hand: for files over 500 KB the test client spools the
    body to a temporary file of its own that it never closes (a ResourceWarning)."""
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {button: "y", **fields}.items()
    ]
    parts.append(
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="posts.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + data + b"\r\n"
    )
    return b"".join(parts) + b"--b--\r\n"


def upload(client, data: bytes, button: str = "check", **fields: str):
    return client.post(
        PAGE,
        data=multipart(data, button, **fields),
        content_type="multipart/form-data; boundary=b",
    )


def count_posts(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Post))


def text_of(response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_page_explains_the_format_and_is_in_the_posts_menu(client, editor, acme):
    response = client.get(PAGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/dashboard/posts/import" aria-current="page">Import CSV</a>' in page
    assert "article,target,time,commentary" in page
    assert 'href="/dashboard/posts/import/example.csv"' in page
    assert 'name="check"' in page and 'name="schedule"' in page
    assert f"Acme Page (id {acme.id}, Europe/Berlin)" in page
    assert 'enctype="multipart/form-data"' in page


def test_the_example_downloads_as_a_csv_attachment(client, editor, acme):
    response = client.get(PAGE + "/example.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).startswith("article,target,time,commentary\r\n")


def test_check_shows_a_table_of_what_will_happen_and_schedules_nothing(
    client, session, editor, good_csv
):
    response = upload(client, good_csv)
    assert response.status_code == 200
    text = " ".join(text_of(response).split())
    assert "Checked: 2 rows: 2 to schedule, 0 already scheduled." in text
    assert "2 First story Acme Page 2026-03-10 14:00 CET (Europe/Berlin) to schedule" in text
    assert ("3 Second story Acme Page 2026-03-04 12:30 CET (Europe/Berlin), the next free slot "
            "to schedule") in text
    assert count_posts(session) == 0
    # The checked file rides along, so "Schedule these posts" needs no second upload.
    checked = re.search(r'name="checked" type="hidden" value="([^"]*)"', response.get_data(as_text=True))
    assert base64.b64decode(checked.group(1)) == good_csv


def test_schedule_after_a_check_makes_the_posts_and_says_how_many(
    client, session, editor, good_csv
):
    checked = re.search(
        r'name="checked" type="hidden" value="([^"]*)"',
        upload(client, good_csv).get_data(as_text=True),
    ).group(1)
    response = client.post(PAGE, data={"checked": checked, "schedule": "y"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard/posts/")
    assert count_posts(session) == 2
    assert "2 rows: 2 scheduled, 0 already scheduled." in text_of(client.get("/dashboard/posts/"))
    # The same file again: nothing new, each row named as already scheduled.
    again = upload(client, good_csv, "schedule")
    assert again.status_code == 303
    assert count_posts(session) == 2
    recheck = " ".join(text_of(upload(client, good_csv)).split())
    assert "2 rows: 0 to schedule, 2 already scheduled" in recheck
    assert "already scheduled (post #" in recheck


def test_a_file_with_problems_lists_them_all_and_schedules_nothing(
    client, session, editor, good_csv
):
    bad = good_csv + b"12345,Nope,2026-03-29 02:30,\n"
    response = upload(client, bad, "schedule")
    assert response.status_code == 422
    text = " ".join(text_of(response).split())
    assert "Nothing was scheduled." in text
    assert "line 4: article '12345' not found" in text
    assert "line 4: target 'Nope' not found; known targets: Acme Page" in text
    assert count_posts(session) == 0
    assert 'name="checked"' not in response.get_data(as_text=True)  # no "Schedule these"


def test_markup_in_a_row_is_shown_as_text(client, session, editor, good_csv):
    page = upload(client, good_csv.replace(b"Acme Page,2026", b"<script>x</script>,2026"))
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "<script>x</script>" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def test_no_file_asks_for_one(client, editor):
    response = client.post(PAGE, data={"check": "y"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file." in response.get_data(as_text=True)


def test_a_tampered_checked_file_is_refused(client, session, editor, acme):
    response = client.post(PAGE, data={"checked": "not base64!", "schedule": "y"})
    assert response.status_code == 400
    assert count_posts(session) == 0


def test_a_binary_file_is_refused_with_the_reason(client, session, editor, acme):
    response = upload(client, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 100, "schedule")
    assert response.status_code == 422
    assert "This is not a CSV text file (it contains binary data)." in text_of(response)


def test_a_file_over_the_limit_is_refused_with_the_limit(client, session, editor, acme):
    response = upload(client, HEADER.encode() + b"x" * bulk.MAX_BYTES, "schedule")
    assert response.status_code == 422
    assert "The file is larger than 1024 KB" in text_of(response)
    assert count_posts(session) == 0


def test_a_request_over_the_sites_limit_is_refused_before_it_is_read(client, session, editor):
    response = upload(client, b"x" * (3 * 1024 * 1024), "schedule")
    assert response.status_code == 413
    assert count_posts(session) == 0


def test_anonymous_visitors_are_sent_to_sign_in(client, session, good_csv):
    assert "/login" in client.get(PAGE).headers["Location"]
    assert "/login" in client.get(PAGE + "/example.csv").headers["Location"]
    response = upload(client, good_csv, "schedule")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count_posts(session) == 0


def test_an_upload_without_the_csrf_token_is_refused(app, client, session, editor, good_csv):
    app.config["WTF_CSRF_ENABLED"] = True
    response = upload(client, good_csv, "schedule")
    assert response.status_code == 400
    assert "The form expired or was not sent from this site" in response.get_data(as_text=True)
    assert count_posts(session) == 0
    page = client.get(PAGE).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = upload(client, good_csv, "schedule", csrf_token=token)
    assert response.status_code == 303
    assert count_posts(session) == 2
