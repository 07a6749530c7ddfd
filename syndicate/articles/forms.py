from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from syndicate.articles.models import Article, BodyFormat
from syndicate.articles.services import ArticleInput
from syndicate.web.forms import FlaskForm, SelectChoice


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()][:50]


class ArticleForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=500)])
    slug = StringField(
        "Slug (empty: made from the title)", validators=[Optional(), Length(max=200)]
    )
    summary = TextAreaField("Summary", validators=[Optional(), Length(max=5000)])
    body_format = SelectField(
        "Body format",
        choices=[
            SelectChoice(BodyFormat.MARKDOWN.value, "Markdown"),
            SelectChoice(BodyFormat.HTML.value, "HTML"),
        ],
        default=BodyFormat.MARKDOWN.value,
    )
    body = TextAreaField("Body", validators=[Optional(), Length(max=1_000_000)])
    canonical_url = StringField(
        "Canonical URL on your site (empty: this page)", validators=[Optional(), Length(max=2000)]
    )
    hero_image_url = StringField("Hero image URL", validators=[Optional(), Length(max=2000)])
    hero_image_alt = StringField("Hero image alt text", validators=[Optional(), Length(max=500)])
    authors = StringField("Authors (comma-separated)", validators=[Optional(), Length(max=2000)])
    categories = StringField(
        "Categories (comma-separated)", validators=[Optional(), Length(max=2000)]
    )
    tags = StringField("Tags (comma-separated)", validators=[Optional(), Length(max=2000)])

    def to_input(self) -> ArticleInput:
        return ArticleInput(
            title=self.title.data or "",
            slug=(self.slug.data or "").strip() or None,
            summary=self.summary.data or "",
            body_format=BodyFormat(self.body_format.data),
            body=self.body.data or "",
            canonical_url=(self.canonical_url.data or "").strip() or None,
            hero_image_url=(self.hero_image_url.data or "").strip() or None,
            hero_image_alt=self.hero_image_alt.data or "",
            authors=_names(self.authors.data),
            categories=_names(self.categories.data),
            tags=_names(self.tags.data),
        )

    def fill_from(self, article: Article) -> None:
        self.title.data = article.title
        self.slug.data = article.slug
        self.summary.data = article.summary
        self.body_format.data = article.body_format.value
        self.body.data = article.body_source
        self.canonical_url.data = article.canonical_url or ""
        self.hero_image_url.data = article.hero_image_url or ""
        self.hero_image_alt.data = article.hero_image_alt
        self.authors.data = ", ".join(a.name for a in article.authors)
        self.categories.data = ", ".join(c.name for c in article.categories)
        self.tags.data = ", ".join(t.name for t in article.tags)
