"""A review page: every removal of a run, side by side, in one self-contained HTML file.

Built from a run's report and the scrape it names (the report's last line): each cluster of
copies shows the kept article and every dropped one with a word-level diff, the similarity, the
rule that fired and the headlines; each article that lost paragraphs or a headline shows the
removed text beside the text it repeats. The page needs no server and no network: the data sits
in the page as JSON (every ``<`` escaped, so no text can close its script element) and is shown
with ``textContent`` only, so article text never becomes markup.
"""

from __future__ import annotations

import json
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from .clean import repair
from .config import CleanOptions, FieldOptions, Options
from .document import clean_text
from .errors import InputError
from .formats import read_articles
from .io import write_text_atomic
from .records import Article
from .segment import segment

CONTEXT = 12  # words kept around each change in a diff
MAX_WORDS = 2000  # words a side that are diffed; past that the diff says it stopped
PAIR_KINDS = ("duplicate_document", "look_alike", "outside_window")


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """What a review page holds."""

    path: str
    clusters: int
    pairs: int
    articles_with_removals: int
    missing: int  # articles the report names that could no longer be read
    bytes: int


def diff_words(kept: str, other: str) -> list[list[Any]]:
    """Word-level diff of two texts as ``[op, text]`` segments: ``=`` shared, ``-`` only in the
    kept text, ``+`` only in the other, ``~`` a run of N shared words left out (``[op, N]``).

    >>> diff_words("the cat sat on the mat", "the dog sat on the mat")
    [['=', 'the'], ['-', 'cat'], ['+', 'dog'], ['=', 'sat on the mat']]
    """
    a, b = kept.split()[:MAX_WORDS], other.split()[:MAX_WORDS]
    out: list[list[Any]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            words = a[i1:i2]
            if len(words) > 2 * CONTEXT + 1:
                head = words[:CONTEXT] if out else []
                tail = words[-CONTEXT:] if i2 < len(a) or j2 < len(b) else []
                out += [["=", " ".join(head)]] if head else []
                out.append(["~", len(words) - len(head) - len(tail)])
                out += [["=", " ".join(tail)]] if tail else []
            else:
                out.append(["=", " ".join(words)])
            continue
        if i2 > i1:
            out.append(["-", " ".join(a[i1:i2])])
        if j2 > j1:
            out.append(["+", " ".join(b[j1:j2])])
    if len(kept.split()) > MAX_WORDS or len(other.split()) > MAX_WORDS:
        out.append(["!", f"diff stops after {MAX_WORDS:,} words"])
    return out


class _Texts:
    """The scrape's articles by (path, line), read on demand, a few files at a time."""

    def __init__(self, scrape: str, fields: FieldOptions) -> None:
        self.scrape, self.fields = scrape, fields
        self.files: OrderedDict[str, dict[int | None, Article]] = OrderedDict()

    def article(self, path: str, line: int | None) -> Article | None:
        if path not in self.files:
            self.files[path] = {a.line: a for a in read_articles(self.scrape, path, self.fields) if isinstance(a, Article)}
            if len(self.files) > 8:
                self.files.popitem(last=False)
        self.files.move_to_end(path)
        return self.files[path].get(line)


def _source(article: Article) -> str:
    """The text dedupe cleaned: a record's title goes first, as in a run."""
    has_title = bool(article.title and article.title.strip())
    return f"{article.title}\n\n{article.text}" if has_title else article.text


def _folder(path: str) -> str:
    return path.split("/", 1)[0] if "/" in path else ""


def build(report: Path, scrape: str | None = None, options: Options | None = None) -> dict[str, Any]:
    """The review's data from a report: summary, clusters, pairs kept apart, removals inside articles."""
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines() if x.strip()]
    if not lines or lines[-1].get("kind") != "summary":
        raise InputError(str(report), "not the report of a dedupe run (no summary line at its end)")
    summary = lines[-1]
    fields = FieldOptions(**summary.get("fields", {}))
    texts = _Texts(scrape or summary["scrape"], fields)
    # the run's own cleaning options (in its summary line), so the page shows what the run compared
    clean = options.clean if options is not None else CleanOptions(**summary.get("clean", {}))
    missing = 0
    cleaned: dict[tuple[str, int | None], Any] = {}

    def article(path: str | None, line: int | None) -> dict[str, Any] | None:
        nonlocal missing
        if path is None:
            return None
        key = (path, line)
        if key not in cleaned:
            a = texts.article(path, line)
            if a is None:
                missing += 1
                cleaned[key] = None
            else:
                r = clean_text(_source(a), clean, doc=a.id)
                cleaned[key] = {"headline": r.headline, "body": "\n\n".join(p.text for p in r.paragraphs)}
        return cleaned[key]  # type: ignore[no-any-return]

    clusters: dict[str, dict[str, Any]] = {}
    apart, inside, boiler, same = [], defaultdict(list), [], []
    headlines = {r["doc"]: (r.get("headline"), r.get("kept_headline")) for r in lines if r["kind"] == "headline_differs"}
    for r in lines:
        kind = r["kind"]
        if kind in PAIR_KINDS and r.get("reason") != "in_index":
            kept = article(r.get("duplicate_of_path"), r.get("duplicate_of_line"))
            other = article(r.get("path"), r.get("line"))
            pair = {
                "kind": kind, "doc": r["doc"], "of": r["duplicate_of"], "similarity": r["similarity"],
                "reason": r["reason"], "folder": _folder(r.get("path", "")),
                "headline": other["headline"] if other else None,
                "kept_headline": kept["headline"] if kept else None,
                "diff": diff_words(kept["body"], other["body"]) if kept and other else None,
            }
            if r["doc"] in headlines:
                pair["headline"], pair["kept_headline"] = headlines[r["doc"]]
            if kind == "duplicate_document":
                c = clusters.setdefault(r["duplicate_of"], {
                    "kept": r["duplicate_of"], "folder": _folder(r.get("duplicate_of_path", "")),
                    "headline": pair["kept_headline"], "copies": [],
                })
                c["copies"].append(pair)
            else:
                apart.append(pair)
        elif kind == "duplicate_document":  # seen in the index before this run
            apart.append({"kind": "in_index", "doc": r["doc"], "of": r["duplicate_of"], "similarity": r["similarity"],
                          "reason": r.get("rule", "in_index"), "folder": _folder(r.get("path", "")), "diff": None})
        elif kind in ("duplicate_paragraph", "duplicate_headline"):
            inside[(r["doc"], r.get("path"), r.get("line"))].append(r)
        elif kind == "boilerplate":
            boiler.append({"doc": r["doc"], "source": r.get("source"), "articles": r.get("articles"),
                           "text": r.get("text"), "reason": r["reason"], "folder": r.get("source") or ""})
        elif kind == "same_headline":
            same.append({"doc": r["doc"], "same_as": r.get("same_as"), "headline": r.get("headline"),
                         "folder": _folder(r.get("path", ""))})
    removals = []
    for (doc, path, line), found in inside.items():
        a = texts.article(path, line) if path else None
        paragraphs = segment(repair(_source(a))[0], clean.layout).paragraphs if a else ()
        removals.append({
            "doc": doc, "folder": _folder(path or ""),
            "removed": [{
                "kind": f["kind"], "rule": f["rule"], "similarity": f["similarity"], "text": f["text"],
                "of": paragraphs[f["duplicate_of"]] if f["duplicate_of"] < len(paragraphs) else None,
            } for f in found],
        })
    return {
        "summary": {k: v for k, v in summary.items() if k not in ("fields", "clean")},
        "clusters": sorted(clusters.values(), key=lambda c: (-len(c["copies"]), c["kept"])),
        "apart": apart, "removals": removals, "boilerplate": boiler, "same_headline": same,
        "missing": missing,
    }


def _script_json(data: Any) -> str:
    """JSON that can sit inside a <script> element: no character of it can end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for c, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(c, esc)
    return text


def render(data: dict[str, Any]) -> str:
    """The self-contained page for the data of :func:`build`."""
    return _PAGE.replace("/*DATA*/", _script_json(data))


def write_review(report: str | Path, out: str | Path, scrape: str | None = None,
                 options: Options | None = None) -> ReviewSummary:
    """Write the review page of a run's report to ``out`` (atomically)."""
    data = build(Path(report), scrape, options)
    page = render(data)
    write_text_atomic(out, page)
    return ReviewSummary(
        str(out), len(data["clusters"]), sum(len(c["copies"]) for c in data["clusters"]) + len(data["apart"]),
        len(data["removals"]), data["missing"], len(page.encode("utf-8")),
    )


_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>dedupe review</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{padding:16px 24px;max-width:1200px}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 16px}
.stat{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 12px;min-width:110px}
.stat b{display:block;font-size:20px}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:10px;margin-bottom:12px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:10px 14px;margin:10px 0}
.card h3{margin:0 0 6px;font-size:15px}.meta{color:#5b6672;font-size:12px}
.pair{border-top:1px solid #eef0f3;padding-top:8px;margin-top:8px}
.diff{white-space:pre-wrap;background:#fbfbfc;border:1px solid #eef0f3;border-radius:4px;padding:6px;max-height:260px;overflow:auto}
.del{background:#ffd7d5;text-decoration:line-through}.ins{background:#cdf5d5}.gap{color:#8a949e;font-style:italic}
.side{display:grid;grid-template-columns:1fr 1fr;gap:10px}.side div{white-space:pre-wrap;background:#fbfbfc;border:1px solid #eef0f3;border-radius:4px;padding:6px}
.tag{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#e8eef6;margin-right:6px}
nav.pages{margin:12px 0}button{margin-right:6px}
</style></head>
<body>
<header><h1>dedupe review</h1><div id="where" class="meta" style="color:#cfd8e3"></div></header>
<main>
<section id="summary"><div class="stats" id="stats"></div><svg id="chart" width="620" height="170" role="img" aria-label="similarity of the pairs weighed"></svg></section>
<section class="controls">
<label>kind <select id="kind"><option value="">all</option><option value="cluster">copies dropped</option><option value="inside">removed inside articles</option><option value="look_alike">look-alikes kept</option><option value="outside_window">outside the window</option><option value="in_index">seen in the index</option><option value="boilerplate">boilerplate</option><option value="same_headline">same headline</option></select></label>
<label>similarity <input id="smin" type="number" min="0" max="1" step="0.05" value="0" style="width:60px"> to <input id="smax" type="number" min="0" max="1" step="0.05" value="1" style="width:60px"></label>
<label>source <select id="folder"><option value="">all</option></select></label>
<label>search <input id="search" type="search" placeholder="name, headline or text"></label>
<span id="count" class="meta"></span>
</section>
<nav class="pages"><button id="prev">previous</button><button id="next">next</button><span id="page" class="meta"></span></nav>
<section id="rows"></section>
</main>
<script type="application/json" id="review-data">/*DATA*/</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("review-data").textContent);
const PAGE = 50;
let page = 0;
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = String(text); return e; }
const s = data.summary;
document.getElementById("where").textContent = s.scrape + "  \u2192  " + s.out;
const stats = [["documents read", s.documents], ["kept", s.kept], ["dropped as copies", s.dropped],
  ["headlines removed", s.headlines_removed], ["paragraphs removed", s.paragraphs_removed],
  ["boilerplate removed", s.boilerplate_removed], ["bytes saved", (s.bytes_in - s.bytes_out).toLocaleString()],
  ["inputs skipped", s.skipped.length]];
for (const [label, value] of stats) { const d = el("div", "stat"); d.id = "stat-" + label.replace(/ /g, "-"); d.append(el("b", null, value), el("span", null, label)); document.getElementById("stats").append(d); }
(function chart() {
  const svg = document.getElementById("chart"), NS = "http://www.w3.org/2000/svg";
  const m = s.similarity_merged || [], n = s.similarity_not_merged || [], bins = Math.max(m.length, n.length);
  if (!bins) return;
  const top = Math.max(1, ...m, ...n), W = 600, H = 120, bw = W / bins;
  const add = (tag, attrs, text) => { const e = document.createElementNS(NS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); if (text) e.textContent = text; svg.append(e); return e; };
  for (let i = 0; i < bins; i++) {
    const hm = (m[i] || 0) / top * H, hn = (n[i] || 0) / top * H;
    add("rect", {x: 10 + i * bw, y: 10 + H - hn, width: bw / 2 - 1, height: hn, fill: "#9aa5b1"}).append(Object.assign(document.createElementNS(NS, "title"), {textContent: (n[i] || 0) + " pairs not merged"}));
    add("rect", {x: 10 + i * bw + bw / 2, y: 10 + H - hm, width: bw / 2 - 1, height: hm, fill: "#e76f51"}).append(Object.assign(document.createElementNS(NS, "title"), {textContent: (m[i] || 0) + " pairs merged"}));
  }
  const tx = 10 + (s.threshold || 0) * W;
  add("line", {x1: tx, x2: tx, y1: 5, y2: 10 + H, stroke: "#1d3557", "stroke-dasharray": "4 3"});
  add("text", {x: 10, y: 160, "font-size": 11}, "similarity 0 \u2192 1 of the candidate pairs: grey not merged, red merged; dashed: --threshold " + s.threshold);
})();
const rows = [];
for (const c of data.clusters) rows.push({kind: "cluster", sim: Math.min(...c.copies.map(p => p.similarity)), folder: c.folder, item: c,
  text: [c.kept, c.headline, ...c.copies.map(p => p.doc + " " + (p.headline || ""))].join(" ")});
for (const p of data.apart) rows.push({kind: p.kind, sim: p.similarity, folder: p.folder, item: p, text: [p.doc, p.of, p.headline || "", p.kept_headline || ""].join(" ")});
for (const r of data.removals) rows.push({kind: "inside", sim: Math.min(...r.removed.map(x => x.similarity)), folder: r.folder, item: r, text: [r.doc, ...r.removed.map(x => x.text)].join(" ")});
for (const b of data.boilerplate) rows.push({kind: "boilerplate", sim: 1, folder: b.folder, item: b, text: [b.doc, b.text || ""].join(" ")});
for (const h of data.same_headline) rows.push({kind: "same_headline", sim: 0, folder: h.folder, item: h, text: [h.doc, h.same_as, h.headline || ""].join(" ")});
const folders = [...new Set(rows.map(r => r.folder))].sort();
for (const f of folders) { const o = el("option", null, f || "(top level)"); o.value = f; document.getElementById("folder").append(o); }
function diffView(diff) {
  const d = el("div", "diff");
  if (!diff) { d.append(el("span", "gap", "(text not available)")); return d; }
  for (const [op, t] of diff) {
    if (op === "~") d.append(el("span", "gap", " \u2026 " + t + " shared words \u2026 "));
    else if (op === "!") d.append(el("span", "gap", " (" + t + ")"));
    else { d.append(el("span", op === "-" ? "del" : op === "+" ? "ins" : null, t)); d.append(document.createTextNode(" ")); }
  }
  return d;
}
function pairView(p) {
  const w = el("div", "pair");
  w.append(el("span", "tag", p.kind === "duplicate_document" ? "dropped" : p.kind), el("b", null, p.doc));
  w.append(el("div", "meta", "similarity " + p.similarity + " \u00b7 rule " + p.reason + (p.of ? " \u00b7 against " + p.of : "")));
  if (p.headline !== undefined && p.headline !== p.kept_headline) w.append(el("div", "meta", "headline: " + (p.headline || "(none)") + "  \u2014 kept: " + (p.kept_headline || "(none)")));
  w.append(diffView(p.diff));
  return w;
}
function card(r) {
  const c = el("article", "card"), it = r.item;
  c.dataset.kind = r.kind;
  if (r.kind === "cluster") {
    c.append(el("h3", null, "kept: " + it.kept), el("div", "meta", (it.headline || "") + " \u00b7 " + it.copies.length + " copies dropped (red: only in the kept copy, green: only in the dropped one)"));
    for (const p of it.copies) c.append(pairView(p));
  } else if (r.kind === "inside") {
    c.append(el("h3", null, it.doc), el("div", "meta", it.removed.length + " removed inside the article"));
    for (const x of it.removed) {
      const w = el("div", "pair"); w.append(el("div", "meta", x.kind + " \u00b7 " + x.rule + " \u00b7 similarity " + x.similarity));
      const side = el("div", "side"); side.append(el("div", null, "removed: " + x.text), el("div", null, "repeats: " + (x.of || "(not available)")));
      w.append(side); c.append(w);
    }
  } else if (r.kind === "boilerplate") {
    c.append(el("h3", null, "boilerplate of " + (it.source || "(top level)")), el("div", "meta", it.articles + " articles \u00b7 " + it.reason), el("div", "diff", it.text));
  } else if (r.kind === "same_headline") {
    c.append(el("h3", null, it.doc), el("div", "meta", "same headline as " + it.same_as + ", another story: kept both"), el("div", null, it.headline));
  } else { c.append(el("h3", null, it.doc)); c.append(pairView(it)); }
  return c;
}
function shown() {
  const kind = document.getElementById("kind").value, folder = document.getElementById("folder").value;
  const lo = parseFloat(document.getElementById("smin").value) || 0, hi = parseFloat(document.getElementById("smax").value);
  const q = document.getElementById("search").value.toLowerCase();
  return rows.filter(r => (!kind || r.kind === kind) && (!folder || r.folder === folder) && r.sim >= lo - 1e-9 && r.sim <= (isNaN(hi) ? 1 : hi) + 1e-9 && (!q || r.text.toLowerCase().includes(q)));
}
function draw() {
  const list = shown(), pages = Math.max(1, Math.ceil(list.length / PAGE));
  page = Math.min(page, pages - 1);
  const box = document.getElementById("rows"); box.replaceChildren();
  for (const r of list.slice(page * PAGE, page * PAGE + PAGE)) box.append(card(r));
  document.getElementById("count").textContent = list.length + " of " + rows.length + " shown";
  document.getElementById("page").textContent = "page " + (page + 1) + " of " + pages;
}
for (const id of ["kind", "folder", "smin", "smax", "search"]) for (const ev of ["input", "change"]) document.getElementById(id).addEventListener(ev, () => { page = 0; draw(); });
document.getElementById("prev").addEventListener("click", () => { page = Math.max(0, page - 1); draw(); });
document.getElementById("next").addEventListener("click", () => { page += 1; draw(); });
draw();
</script>
</body></html>
"""
