"""A Scrapy item pipeline: clean each item's text, drop copies of stories already seen.

Enable it in the project's settings::

    ITEM_PIPELINES = {"dedupe.contrib.scrapy.DedupePipeline": 300}
    DEDUPE_INDEX = "seen.sqlite"      # or "redis://host:6379/0#news"; default: this crawl only
    DEDUPE_TEXT_FIELD = "text"        # the article body: cleaned in place, and what is compared
    DEDUPE_TITLE_FIELD = "title"      # repaired in place; a copy of it in the body is removed
    DEDUPE_ID_FIELD = "url"           # how the index names an item
    DEDUPE_DATE_FIELD = "date"
    DEDUPE_THRESHOLD = 0.7            # Jaccard (MinHash estimate) of bodies that makes a copy
    DEDUPE_CONTAINMENT = 0.8          # share of paragraphs found in the other article

A copy raises ``DropItem`` naming the item it copies, the rule and the similarity; Scrapy logs
it and counts it in its stats. An item without text passes untouched.
"""

from __future__ import annotations

from typing import Any

try:
    from itemadapter import ItemAdapter
    from scrapy.exceptions import DropItem
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("dedupe.contrib.scrapy needs Scrapy: pip install 'news-dedupe[scrapy]'") from e

from ..clean import repair
from ..config import FieldOptions, Options, RunOptions
from ..index import Index
from ..prepare import prepare
from ..records import Article


class DedupePipeline:
    """Scrapy item pipeline backed by a dedupe :class:`~dedupe.index.Index`."""

    def __init__(self, target: str, options: Options) -> None:
        self.target = target
        self.options = options
        self.index: Index | None = None
        self.seen = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupePipeline:
        s = crawler.settings
        fields = FieldOptions(
            text=s.get("DEDUPE_TEXT_FIELD", "text"),
            title=s.get("DEDUPE_TITLE_FIELD", "title"),
            id=s.get("DEDUPE_ID_FIELD", "url"),
            date=s.get("DEDUPE_DATE_FIELD", "date"),
        )
        run = RunOptions(threshold=s.getfloat("DEDUPE_THRESHOLD", 0.7), containment=s.getfloat("DEDUPE_CONTAINMENT", 0.8))
        return cls(s.get("DEDUPE_INDEX", ":memory:"), Options(fields=fields, run=run))

    def open_spider(self, spider: Any) -> None:
        self.index = Index.open(self.target, self.options)

    def close_spider(self, spider: Any) -> None:
        if self.index is not None:
            self.index.close()

    def process_item(self, item: Any, spider: Any) -> Any:
        assert self.index is not None, "the pipeline was not opened"
        f = self.options.fields
        adapter = ItemAdapter(item)
        text = adapter.get(f.text)
        if not isinstance(text, str) or not text.strip():
            return item
        title = adapter.get(f.title)
        if isinstance(title, str):
            title, _ = repair(title)
            adapter[f.title] = title.strip()
        self.seen += 1
        doc_id = str(adapter.get(f.id) or f"item-{self.seen}")
        date = adapter.get(f.date)
        article = Article(doc_id, doc_id, text, title if isinstance(title, str) else None,
                          str(date) if date is not None else None)
        prep = prepare(article, self.options)
        verdict = self.index.check_entry(self.index.entry(prep, doc_id))
        if verdict.duplicate:
            best = verdict.matches[0]
            raise DropItem(f"dedupe: a copy of {best.id} ({best.rule}, similarity {best.similarity:.2f})")
        adapter[f.text] = prep.output
        return item
