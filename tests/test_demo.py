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


def test_demo_posts_come_with_a_history_of_figures_for_the_analytics_page(
    app, runner, session, client
):
    from syndicate.linkedin.models import PostStatSample, PostStatState, StatRefresh
    from syndicate.posts.models import Post, PostState

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    posts = session.scalars(select(Post).where(Post.state == PostState.PUBLISHED)).all()
    assert len(posts) >= 8
    for post in posts:
        series = session.scalars(
            select(PostStatSample.reactions)
            .where(PostStatSample.post_id == post.id)
            .order_by(PostStatSample.taken_at)
        ).all()
        assert len(series) >= 2
        assert series == sorted(series)  # figures only grow
    states = session.scalars(select(PostStatState)).all()
    assert len(states) == len(posts)
    assert all(s.state is StatRefresh.WAITING and s.next_at is not None for s in states)

    email, password = (Path(app.instance_path) / "demo-admin.txt").read_text().split()[:2]
    client.post("/login", data={"email": email, "password": password})
    html = client.get("/dashboard/posts/analytics").get_data(as_text=True)
    assert "No published posts in this range" not in html
    assert "Sandbox Magazine" in html and "Sam Sandbox" in html


def test_demo_page_target_has_best_times_to_offer(app, runner, session, client):
    from syndicate.linkedin.models import LinkedInTarget

    assert runner.invoke(args=["demo"]).exit_code == 0
    page = session.scalar(
        select(LinkedInTarget).where(LinkedInTarget.display_name == "Sandbox Magazine")
    )
    email, password = (Path(app.instance_path) / "demo-admin.txt").read_text().split()[:2]
    client.post("/login", data={"email": email, "password": password})
    html = client.get(f"/dashboard/posts/targets/{page.id}").get_data(as_text=True)
    assert "Best times to post" in html and "Not enough published posts" not in html
    assert 'name="top"' in html
