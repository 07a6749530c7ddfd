def test_home_lists_published_article_newest_first(client, make_article, clock):
    from datetime import timedelta
    make_article(title="Older piece", published_at=clock.now() - timedelta(days=1))
    make_article(title="Newer piece")
    make_article(title="Secret draft", publish=False)
    body = client.get("/").get_data(as_text=True)
    assert body.index("Newer piece") < body.index("Older piece")
    assert "Secret draft" not in body
