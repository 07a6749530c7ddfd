from pathlib import Path

from sqlalchemy import func, select

from syndicate.articles.models import Article, ArticleStatus, Category
from syndicate.staff.models import Role, User


def test_demo_loads_a_varied_magazine_and_an_admin_once(app, runner, session, client):
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "Sign in at" in result.output and "admin@demo.syndicate.test" in result.output
    articles = session.scalars(select(Article)).all()
    assert len(articles) >= 9
    assert any(a.status is ArticleStatus.DRAFT for a in articles)
    assert session.scalar(select(func.count()).select_from(Category)) >= 3
    assert len({a.name for art in articles for a in art.authors}) >= 3
    assert any("—" in a.title and "“" in a.title for a in articles)
    assert session.scalar(select(User).where(User.role == Role.ADMIN)) is not None

    hero = next(a for a in articles if a.hero_image_url)
    with client.get(hero.hero_image_url.removeprefix(app.config["SITE_URL"])) as image:
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")

    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0
    assert session.scalar(select(func.count()).select_from(Article)) == len(articles)

    email, password = (Path(app.instance_path) / "demo-admin.txt").read_text().split()[:2]
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
