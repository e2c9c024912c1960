"""The Scrapy pipeline, in a real crawl: Scrapy fetches pages served on 127.0.0.1 by this test."""

from __future__ import annotations

import html
import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .test_run import article, syndicated

pytest.importorskip("scrapy", reason="the Scrapy pipeline is tested with Scrapy installed ('.[test]' has it)")

ROOT = Path(__file__).resolve().parent.parent

SPIDER = '''
import scrapy

class News(scrapy.Spider):
    name = "news"

    def __init__(self, start, **kw):
        super().__init__(**kw)
        self.start_urls = [start]

    def parse(self, response):
        if response.url.endswith("/index.html"):
            yield from response.follow_all(css="a", callback=self.parse)
            return
        yield {
            "url": response.url,
            "title": response.css("h1::text").get(),
            "text": "\\n\\n".join(p.strip() for p in response.css("p::text").getall()),
        }
'''


def page(head: str, paras: list[str]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paras)
    return f"<html><head><title>{html.escape(head)}</title></head><body><h1>{html.escape(head)}</h1>\n{body}</body></html>"


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (h0, p0), (h1, p1) = article(0), article(1)
    wire_head, *wire = syndicated(h0, p0).replace("\n   ", "\n\n").split("\n\n")
    pages = {
        "a.html": page(h0, p0 + [p0[0]]),  # the lead repeated at the end: cleaned away
        "b.html": page(wire_head, [" ".join(x.split()) for x in wire]),  # a wire copy of a.html
        "c.html": page(h1, p1),
    }
    for name, text in pages.items():
        (root / name).write_text(text, encoding="utf-8")
    links = "".join(f'<a href="{n}">{n}</a>' for n in pages)
    (root / "index.html").write_text(f"<html><body>{links}</body></html>", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def crawl(site: str, tmp_path: Path, index: str) -> tuple[list[dict], str]:
    (tmp_path / "spider.py").write_text(SPIDER, encoding="utf-8")
    out = tmp_path / f"items-{Path(index).stem}.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", str(tmp_path / "spider.py"), "-a", f"start={site}/index.html",
         "-O", f"{out}:jsonlines", "-s", "ITEM_PIPELINES={\"dedupe.contrib.scrapy.DedupePipeline\": 300}",
         "-s", f"DEDUPE_INDEX={index}", "-s", "TELNETCONSOLE_ENABLED=0", "-s", "ROBOTSTXT_OBEY=0"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()], result.stderr


def test_crawl_keeps_one_copy_of_each_story_with_clean_text(site, tmp_path):
    items, log = crawl(site, tmp_path, str(tmp_path / "seen.sqlite"))
    urls = sorted(i["url"].rsplit("/", 1)[1] for i in items)
    assert len(items) == 2 and "c.html" in urls and len({"a.html", "b.html"} & set(urls)) == 1
    assert "dedupe: a copy of" in log and "item_dropped_count': 1" in log
    head, paras = article(1)
    (c,) = [i for i in items if i["url"].endswith("c.html")]
    assert c["text"] == "\n\n".join(paras) and c["title"] == head
    if "a.html" in urls:
        (a,) = [i for i in items if i["url"].endswith("a.html")]
        assert a["text"] == "\n\n".join(article(0)[1])  # the repeated lead is gone


def test_the_index_remembers_between_crawls(site, tmp_path):
    index = str(tmp_path / "seen.sqlite")
    first, _ = crawl(site, tmp_path, index)
    again, log = crawl(site, tmp_path, index)
    assert len(first) == 2 and again == []
    assert "item_dropped_count': 3" in log
