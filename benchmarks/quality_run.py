"""Cross-article quality of `dedupe run` against gold clusters, side by side with two baselines.

Builds scrape directories in a temp dir from the public corpora in ../shared/corpora, runs
`python -m dedupe.cli run DIR --out OUT --report REPORT` on each (a subprocess), turns the report's
`duplicate_document` lines into clusters (a dropped doc joins the cluster of its `duplicate_of`;
connected components) and prints pairwise precision, recall and F1 for it and, on the same documents,
for two baselines computed in-process:

- exact-hash: raw text lowercased and whitespace-collapsed, equal xxh64 hashes = one cluster;
- minhash-lsh-0.8: datasketch MinHash(num_perm=128) over word 5-shingles of the raw text (lowercased,
  split on whitespace), MinHashLSH(threshold=0.8); candidate pairs from LSH queries, no verification;
  clusters = connected components.

Pairwise metrics: over all unordered pairs of documents, a pair is predicted-positive when both are in one
predicted cluster and gold-positive when both are in one gold cluster. TP/FP/FN, P, R, F1, wall time, and
the ratio of dedupe's F1 to each baseline's.

The sets:
A. BBC natural duplicates (bbc-news-2225): the 2,225 articles as .txt at their paths (business/001.txt ...;
   sport/199.txt, latin-1 in the corpus, re-encoded as UTF-8). Gold = derived_duplicate_clusters.jsonl
   (154 clusters of 2: 5-shingle Jaccard >= 0.9, exact copies included). The 24 partial_overlap pairs
   (0.3 <= J < 0.9) are ambiguous: excluded from scoring, and how many each method merged is printed. Also
   printed: recall on the 38 gold pairs whose headlines differ.
B. Scraper versions of one page (article-extraction-benchmark): per page id, the ground-truth body and the
   10 extractors' outputs as ID8/EXTRACTOR.txt (ID8/ground_truth.txt); empty texts skipped. Gold: all versions
   of one id are one cluster; different ids are never duplicates. Also printed: per extractor, the share of
   pages whose output is clustered with the ground truth.
C. Syndicated copies (synthetic, from real BBC text; seed 42): 300 BBC articles in no derived pair and no
   same-headline group, each with 2-4 copies; each copy gets 2-5 of: new headline (wire prefix such as
   "UPDATE 1-", two words swapped, one or two words replaced), a dateline on the first paragraph
   ("LONDON (Reuters) - "), a credit footer paragraph, the last paragraph dropped, hard wrap at 68-72 columns
   (with indented paragraph starts and no blank lines, or blank-line separated), 1-3 body words changed.
   Plus 150 other such BBC articles as singletons. Files: site-<0..4>/<headline-slug>-<hash>.txt.
   Gold: each original with its copies. Also printed: recall of original-copy pairs per transform.
D. Templated look-alikes (synthetic negatives): 60 notices, 15 from each of 4 templates (dividend
   declaration, earnings-date notice, match report, executive appointment) with different companies,
   tickers, people, amounts and dates, 80-200 words each, in the same site-<k>/ folders as C. Dividend and
   earnings notices are terse (a few slots in long fixed text, one of two safe-harbor paragraphs), so notices
   of one template sharing the paragraph reach 5-shingle Jaccard 0.8+ (21 of the 420 same-template pairs);
   the other two templates have more slots (Jaccard <= 0.7). Gold: all singletons. Printed: pairs merged
   among D, by template, and between D and C (target 0).
C and D share one scrape directory (D's negatives face C's positives); A and B each have their own.

Usage: python benchmarks/quality_run.py [--shared ../shared] [--jobs N] [--threshold T] [--json OUT.json]
       [--workdir DIR] [--cmd "python -m dedupe.cli"]
Paths are relative to the repo root. --workdir keeps the scrape dirs (set-A, set-B, set-CD), outputs
(set-*.out) and reports (set-*.report.jsonl) there, replacing those of an earlier run (default: a temp dir,
deleted). --cmd replaces the command (to test the harness with a stand-in). Takes ~20 s besides dedupe itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import xxhash
from datasketch import MinHash, MinHashLSH

Pair = frozenset[str]
SEED = 42
TIMEOUT_S = 600


# ---------------------------------------------------------------- clusters and scoring


def components(docs: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Doc -> cluster label (a root doc): connected components of the edges; unlinked docs are singletons."""
    parent = {d: d for d in docs}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {d: find(d) for d in parent}


def _c2(n: int) -> int:
    return n * (n - 1) // 2


def pair_counts(pred: dict[str, str], gold: dict[str, str], docs: Iterable[str],
                exclude: Iterable[Pair] = ()) -> tuple[int, int, int]:
    """Pairwise (TP, FP, FN) over all unordered pairs of `docs`, leaving out the `exclude` pairs."""
    docs = list(docs)
    pp = sum(_c2(n) for n in Counter(pred[d] for d in docs).values())
    gp = sum(_c2(n) for n in Counter(gold[d] for d in docs).values())
    tp = sum(_c2(n) for n in Counter((pred[d], gold[d]) for d in docs).values())
    inside = set(docs)
    for pair in exclude:
        a, b = sorted(pair)
        if a in inside and b in inside:
            same_pred, same_gold = pred[a] == pred[b], gold[a] == gold[b]
            pp -= same_pred
            gp -= same_gold
            tp -= same_pred and same_gold
    return tp, pp - tp, gp - tp


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def merged(pred: dict[str, str], pairs: Iterable[Pair]) -> int:
    """How many of the pairs fall in one predicted cluster."""
    return sum(pred[a] == pred[b] for a, b in (sorted(p) for p in pairs))


def pairs_within(pred: dict[str, str], docs: Iterable[str]) -> int:
    return sum(_c2(n) for n in Counter(pred[d] for d in docs).values())


def pairs_across(pred: dict[str, str], left: Iterable[str], right: Iterable[str]) -> int:
    lc, rc = Counter(pred[d] for d in left), Counter(pred[d] for d in right)
    return sum(n * rc[c] for c, n in lc.items())


# ---------------------------------------------------------------- methods


def norm_key(text: str) -> str:
    return " ".join(text.lower().split())


def exact_hash(texts: dict[str, str]) -> dict[str, str]:
    groups: dict[int, list[str]] = defaultdict(list)
    for doc, text in texts.items():
        groups[xxhash.xxh64_intdigest(norm_key(text).encode("utf-8"))].append(doc)
    edges = [(g[0], d) for g in groups.values() for d in g[1:]]
    return components(texts, edges)


def shingles(text: str, n: int = 5) -> set[str]:
    words = text.lower().split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def minhash_lsh(texts: dict[str, str], threshold: float = 0.8, num_perm: int = 128) -> dict[str, str]:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sigs = {}
    for doc, text in texts.items():
        m = MinHash(num_perm=num_perm)
        m.update_batch([s.encode("utf-8") for s in shingles(text)])
        sigs[doc] = m
        lsh.insert(doc, m)
    edges = [(doc, other) for doc, m in sigs.items() for other in lsh.query(m) if other != doc]
    return components(texts, edges)


@dataclass
class RunResult:
    pred: dict[str, str] | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


def _doc_id(raw: Any, scrape: Path) -> str:
    s = str(raw).replace("\\", "/")
    root = scrape.as_posix().rstrip("/") + "/"
    if s.startswith(root):
        s = s[len(root):]
    while s.startswith("./"):
        s = s[2:]
    return str(PurePosixPath(s))


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join("      " + line for line in text.strip().splitlines()[-lines:])


def dedupe_run(cmd: list[str], scrape: Path, texts: dict[str, str], extra: list[str]) -> RunResult:
    """Run `dedupe run` on the scrape dir and read its report into clusters; errors are results."""
    out, report = scrape.parent / (scrape.name + ".out"), scrape.parent / (scrape.name + ".report.jsonl")
    argv = [*cmd, "run", str(scrape), "--out", str(out), "--report", str(report), *extra]
    shutil.rmtree(out, ignore_errors=True)  # nothing stale from an earlier run in --workdir
    report.unlink(missing_ok=True)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return RunResult(error=f"timed out after {TIMEOUT_S} s: {shlex.join(argv)}")
    except OSError as e:
        return RunResult(error=f"could not start {shlex.join(argv)}: {e}")
    res = RunResult()
    if proc.returncode not in (0, 1):
        res.error = f"exit code {proc.returncode}: {shlex.join(argv)}\n{_tail(proc.stderr or proc.stdout)}"
        return res
    if proc.returncode == 1:
        skipped = [ln for ln in proc.stderr.splitlines() if "skip" in ln.lower()]
        res.notes.append(f"exit code 1 (some input skipped); {len(skipped)} stderr lines mention skipping:\n"
                         + _tail("\n".join(skipped) or proc.stderr, 4))
    if not report.is_file():
        res.error = f"no report written at {report}\n{_tail(proc.stderr)}"
        return res
    edges, unknown, bad = [], [], 0
    dropped: set[str] = set()
    for n, line in enumerate(report.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        kind = rec.get("kind", "?") if isinstance(rec, dict) else "?"
        res.kinds[kind] += 1
        if kind != "duplicate_document":
            continue
        doc, of = _doc_id(rec.get("doc"), scrape), _doc_id(rec.get("duplicate_of"), scrape)
        if doc not in texts or of not in texts:
            unknown.append(f"line {n}: doc={rec.get('doc')!r} duplicate_of={rec.get('duplicate_of')!r}")
            continue
        dropped.add(doc)
        edges.append((doc, of))
    if bad:
        res.error = f"{bad} report lines are not JSON ({report})"
        return res
    if unknown:
        res.error = (f"{len(unknown)} duplicate_document lines name documents not in the scrape dir, e.g.\n"
                     + _tail("\n".join(unknown[:4])))
        return res
    chained = sum(of in dropped for _, of in edges)
    if chained:
        res.notes.append(f"{chained} duplicate_of targets were themselves dropped (contract: the kept copy)")
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} if out.is_dir() else set()
    missing = set(texts) - dropped - written
    stray = dropped & written
    if missing or stray:
        res.notes.append(f"out dir check: {len(missing)} kept docs not written (e.g. {sorted(missing)[:3]}), "
                         f"{len(stray)} dropped docs written (e.g. {sorted(stray)[:3]})")
    res.pred = components(texts, edges)
    return res


# ---------------------------------------------------------------- corpora and sets


@dataclass
class Set:
    key: str
    title: str
    texts: dict[str, str]  # doc id (relative path) -> text written
    gold: dict[str, str]
    exclude: set[Pair] = field(default_factory=set)
    info: list[str] = field(default_factory=list)
    extras: list[Callable[[dict[str, str]], str]] = field(default_factory=list)  # per-method extra lines


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bbc_texts(corpus: Path) -> dict[str, str]:
    texts = {}
    for p in sorted((corpus / "articles").glob("*/*.txt")):
        raw = p.read_bytes()
        try:
            texts[p.relative_to(corpus / "articles").as_posix()] = raw.decode("utf-8")
        except UnicodeDecodeError:
            texts[p.relative_to(corpus / "articles").as_posix()] = raw.decode("latin-1")
    return texts


def set_a(corpus: Path, texts: dict[str, str]) -> Set:
    clusters = read_jsonl(corpus / "derived_duplicate_clusters.jsonl")
    pairs = read_jsonl(corpus / "derived_duplicate_pairs.jsonl")
    assert len(texts) == 2225, f"expected 2,225 BBC articles, found {len(texts)}"
    assert len(clusters) == 154, f"expected 154 gold clusters, found {len(clusters)}"
    edges = [(c["members"][0], m) for c in clusters for m in c["members"][1:]]
    assert all(m in texts for c in clusters for m in c["members"]), "gold names a missing file"
    gold = components(texts, edges)
    partial = {frozenset((p["a"], p["b"])) for p in pairs if p["kind"] == "partial_overlap"}
    strong = [p for p in pairs if p["kind"] != "partial_overlap"]
    difftitle = {frozenset((p["a"], p["b"])) for p in strong if not p["same_title"]}
    gold_pairs = sum(_c2(n) for n in Counter(gold.values()).values())
    assert gold_pairs == len(strong) == 154, (gold_pairs, len(strong))
    s = Set("A", "BBC natural duplicates (bbc-news-2225)", texts, gold, exclude=partial)
    s.info.append(f"{len(texts)} docs, {len(clusters)} gold clusters ({Counter(len(c['members']) for c in clusters)}"
                  f" by size), {gold_pairs} gold pairs ({sum(p['kind'] == 'exact' for p in strong)} exact, "
                  f"{sum(p['kind'] == 'near_duplicate' for p in strong)} near); {len(partial)} partial_overlap "
                  "pairs excluded from scoring")
    jac = {frozenset((p["a"], p["b"])): p["jaccard_5shingle"] for p in pairs}

    def partial_merged(pred: dict[str, str]) -> str:
        js = sorted((jac[p] for p in partial if merged(pred, [p])), reverse=True)
        return (f"partial_overlap pairs merged (not scored): {len(js)}/{len(partial)}"
                + (f", their Jaccard: {' '.join(f'{j:.2f}' for j in js)}" if js else ""))

    s.extras.append(partial_merged)
    s.extras.append(lambda pred: f"gold pairs with different headlines found: {merged(pred, difftitle)}/{len(difftitle)}")
    return s


def set_b(corpus: Path) -> Set:
    gt = read_jsonl(corpus / "ground_truth.jsonl")
    outs = read_jsonl(corpus / "extractor_outputs.jsonl")
    assert len(gt) == 92 and len(outs) == 920, (len(gt), len(outs))
    id8 = {r["id"]: r["id"][:8] for r in gt}
    assert len(set(id8.values())) == 92, "8-character ids collide"
    texts: dict[str, str] = {}
    empty: Counter[str] = Counter()
    for r in gt:
        if r["articleBody"].strip():
            texts[f"{id8[r['id']]}/ground_truth.txt"] = r["articleBody"]
        else:
            empty["ground_truth"] += 1
    for r in outs:
        if (r["text"] or "").strip():
            texts[f"{id8[r['id']]}/{r['extractor']}.txt"] = r["text"]
        else:
            empty[r["extractor"]] += 1
    gold = {d: d.split("/")[0] for d in texts}
    sizes = Counter(Counter(gold.values()).values())
    s = Set("B", "scraper versions of one page (article-extraction-benchmark)", texts, gold)
    s.info.append(f"{len(texts)} docs from {len(set(gold.values()))} pages (cluster sizes {dict(sorted(sizes.items()))}), "
                  f"{sum(_c2(n) for n in Counter(gold.values()).values())} gold pairs; empty texts skipped: {dict(empty)}")
    extractors = sorted({r["extractor"] for r in outs})

    def per_extractor(pred: dict[str, str]) -> str:
        parts = []
        for ex in extractors:
            pairs = [frozenset((f"{p}/ground_truth.txt", f"{p}/{ex}.txt")) for p in sorted(set(id8.values()))
                     if f"{p}/{ex}.txt" in texts and f"{p}/ground_truth.txt" in texts]
            parts.append(f"{ex} {merged(pred, pairs)}/{len(pairs)}")
        return "clustered with ground truth: " + ", ".join(parts)

    s.extras.append(per_extractor)
    return s


# --- set C: syndication


HEADLINE_PREFIXES = ["UPDATE 1-", "UPDATE 2-", "UPDATE 3-", "RPT-", "CORRECTED-", "WRAPUP 1-", "REFILE-"]
HEADLINE_SYNONYMS = {
    "wins": "takes", "win": "take", "set": "poised", "plans": "proposals", "plan": "proposal", "rise": "climb",
    "rises": "climbs", "falls": "drops", "fall": "drop", "uk": "Britain", "us": "American", "new": "fresh",
    "says": "warns", "warns": "cautions", "boost": "lift", "cut": "trim", "cuts": "trims", "hits": "strikes",
    "record": "all-time", "deal": "agreement", "firm": "company", "row": "dispute", "talks": "negotiations",
    "to": "will", "over": "on", "for": "in", "big": "major", "bid": "offer", "call": "appeal", "high": "peak",
}
HEADLINE_FILLERS = ["again", "now", "amid doubts", "- sources", "in surprise move", "as expected"]
CITIES = ["LONDON", "NEW YORK", "WASHINGTON", "PARIS", "BRUSSELS", "SYDNEY", "TOKYO", "MANCHESTER", "DUBLIN"]
AGENCIES = ["Reuters", "AP", "AFP", "Bloomberg", "PA"]
MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec"]
FIRST = ["Jane", "John", "Sam", "Ana", "Tom", "Priya", "Marc", "Li", "Olga", "Kevin", "Sara", "Ahmed", "Nina"]
LAST = ["Doe", "Roe", "Lee", "Ruiz", "Ford", "Patel", "Dubois", "Wei", "Ivanova", "Brown", "Okafor", "Khan"]
BODY_WORDS = ["also", "reportedly", "recently", "still", "further", "largely", "widely", "nearly", "formally",
              "government", "market", "company", "officials", "people", "country", "analysts", "week", "year"]
TRANSFORMS = ["headline", "dateline", "footer", "drop_last", "wrap", "words"]


def split_article(text: str) -> tuple[str, list[str]]:
    """BBC layout: headline on line 1, then blank-line separated paragraphs (one line each)."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks, cur = [], []
    for line in lines[1:]:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            blocks.append(" ".join(cur))
            cur = []
    if cur:
        blocks.append(" ".join(cur))
    return lines[0].strip(), blocks


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def new_headline(head: str, rng: random.Random) -> str:
    how = rng.choice(["prefix", "swap", "replace"])
    words = head.split()
    if how == "prefix":
        return rng.choice(HEADLINE_PREFIXES) + head
    if how == "replace":
        idx = [i for i, w in enumerate(words) if w.lower().strip("',") in HEADLINE_SYNONYMS]
        if idx:
            for i in rng.sample(idx, min(2, len(idx))):
                words[i] = HEADLINE_SYNONYMS[words[i].lower().strip("',")]
            return " ".join(words)
        return head + " " + rng.choice(HEADLINE_FILLERS)
    if len(words) >= 3:  # swap two words
        i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
        return " ".join(words)
    return rng.choice(HEADLINE_PREFIXES) + head


def change_words(paras: list[str], n: int, rng: random.Random) -> list[str]:
    toks = [p.split(" ") for p in paras]
    spots = [(i, j) for i, t in enumerate(toks) for j, w in enumerate(t) if re.fullmatch(r"[a-z]{3,}[,.;:]?", w)]
    for i, j in rng.sample(spots, min(n, len(spots))):
        w = toks[i][j]
        tail = w[-1] if w[-1] in ",.;:" else ""
        toks[i][j] = rng.choice([b for b in BODY_WORDS if b != w.rstrip(",.;:")]) + tail
    return [" ".join(t) for t in toks]


def syndicate(text: str, rng: random.Random) -> tuple[str, str, list[str]]:
    """A wire copy of a BBC article: (headline, text, transforms applied)."""
    head, paras = split_article(text)
    ops = rng.sample(TRANSFORMS, rng.randint(2, 5))
    if "drop_last" in ops and len(paras) < 4:
        ops.remove("drop_last")
        ops.append(rng.choice(["dateline", "footer", "words"]) if "words" in ops else "words")
        ops = list(dict.fromkeys(ops))
    if "words" in ops:
        paras = change_words(paras, rng.randint(1, 3), rng)
    if "drop_last" in ops:
        paras = paras[:-1]
    if "dateline" in ops:
        city, agency, dash = rng.choice(CITIES), rng.choice(AGENCIES), rng.choice(["-", "—", "--"])
        date = f", {rng.choice(MONTHS)} {rng.randint(1, 28)}" if rng.random() < 0.5 else ""
        paras[0] = f"{city}{date} ({agency}) {dash} {paras[0]}"
    if "footer" in ops:
        paras.append(rng.choice([
            f"Reporting by {_name(rng)}; Editing by {_name(rng)}",
            f"Additional reporting by {_name(rng)} in {rng.choice(CITIES).title()}; Writing by {_name(rng)}; "
            f"Editing by {_name(rng)}",
            "(c) 2005 The Associated Press. All rights reserved. This material may not be published, broadcast, "
            "rewritten or redistributed.",
            "Copyright 2005 Reuters. All rights reserved.",
            f"({_name(rng)} reported from {rng.choice(CITIES).title()})",
        ]))
    if "headline" in ops:
        head = new_headline(head, rng)
    if "wrap" in ops:
        width, indent = rng.randint(68, 72), rng.random() < 0.5
        lead = " " * rng.choice([2, 3, 4]) if indent else ""
        wrapped = [textwrap.fill(p, width, initial_indent=lead) for p in paras]
        body = ("\n" if indent else "\n\n").join(wrapped)
    else:
        body = "\n\n".join(paras)
    return head, f"{head}\n\n{body}\n", ops


def _slug(head: str, salt: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", head.lower()).strip("-")[:50]
    return f"{s}-{hashlib.sha1(salt.encode()).hexdigest()[:6]}"


# --- set D: templated notices (fixed boilerplate, a few slots: the look-alikes a wire feed is full of)

COMPANY_A = ["Harbor", "Summit", "Pinecrest", "Northgate", "Bluewater", "Ironwood", "Crescent", "Redstone",
             "Lakeview", "Silverline", "Granite", "Westfield", "Oakmont", "Brightpath", "Stonebridge", "Clearwater"]
COMPANY_B = ["Holdings", "Bancorp", "Industries", "Financial", "Energy", "Technologies", "Logistics", "Foods",
             "Health", "Materials", "Systems", "Capital"]
US_CITIES = ["CHICAGO", "HOUSTON", "ATLANTA", "DENVER", "BOSTON", "DALLAS", "SEATTLE", "PHOENIX", "COLUMBUS",
             "CHARLOTTE", "MINNEAPOLIS", "PITTSBURGH", "RICHMOND", "TAMPA", "OMAHA"]
FULL_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]
TEAMS = ["Ashford Town", "Brookfield United", "Carrow Rovers", "Dunmore City", "Elmstead Athletic", "Fairhaven",
         "Glenbrook Wanderers", "Hollins Park", "Kingsmere Albion", "Langley Villa", "Marston Harriers",
         "Norbury Celtic", "Penrith Vale", "Redbourne County", "Saltby Rangers", "Thornton Orient"]
ROLES = ["Chief Financial Officer", "Chief Operating Officer", "Chief Technology Officer", "General Counsel",
         "Chief Marketing Officer", "Chief Information Officer"]
SAFE_HARBOR = [
    "This press release contains forward-looking statements within the meaning of the Private Securities "
    "Litigation Reform Act of 1995. These statements are based on current expectations and are subject to risks "
    "and uncertainties that could cause actual results to differ materially from those expressed or implied. The "
    "company undertakes no obligation to update any forward-looking statement, except as required by law.",
    "Certain statements in this release are forward-looking and involve known and unknown risks, including "
    "changes in economic conditions, competition and regulation, which may cause actual results to differ "
    "materially from the results anticipated. Readers should not place undue reliance on these statements, which "
    "speak only as of the date of this release.",
]


def _company(rng: random.Random, used: set[str]) -> tuple[str, str]:
    while True:
        name = f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)}"
        if name not in used:
            used.add(name)
            return name, (name.split()[0][:3] + name.split()[1][:1]).upper()


def _date(rng: random.Random, year: int = 2025) -> str:
    return f"{rng.choice(FULL_MONTHS)} {rng.randint(1, 28)}, {year}"


def _lead(co: str, tick: str, rng: random.Random) -> str:
    return f"{rng.choice(US_CITIES)}, {_date(rng)} -- {co} ({rng.choice(['NYSE', 'NASDAQ'])}: {tick})"


DIVIDEND_POLICY = (
    "The declaration and payment of future dividends is at the discretion of the Board of Directors and will "
    "depend on the company's earnings, financial condition, capital requirements and other factors the Board "
    "considers relevant. Shareholders who hold their shares through a broker or bank should contact that "
    "institution with any questions about the payment. Registered shareholders may enroll in the company's "
    "dividend reinvestment plan through the transfer agent.")
CALL_DETAILS = (
    "Participants may access the call by dialing the toll-free number listed on the Investor Relations section "
    "of the company's website and should dial in ten minutes before the start of the call. A live webcast and the "
    "accompanying presentation slides will also be available on the website, and a replay will be archived there "
    "for ninety days.")


def dividend(rng: random.Random, used: set[str]) -> str:
    """Terse, like an auto-generated wire notice: a few slots in long fixed text (Jaccard up to ~0.85)."""
    co, tick = _company(rng, used)
    return (f"{co} Declares Quarterly Dividend\n\n"
            f"{co} ({rng.choice(['NYSE', 'NASDAQ'])}: {tick}) today announced that its Board of Directors declared a "
            f"quarterly cash dividend of ${rng.randint(5, 95) / 100:.2f} per share, payable on March "
            f"{rng.choice([14, 15, 31])}, 2025 to shareholders of record on March {rng.choice([1, 3, 4])}, 2025.\n\n"
            f"{DIVIDEND_POLICY}\n\n{rng.choice(SAFE_HARBOR)}")


def earnings(rng: random.Random, used: set[str]) -> str:
    """Terse, like dividend(): company, ticker, quarter, date and time are the only slots."""
    co, tick = _company(rng, used)
    q = rng.choice(["first", "second", "third", "fourth"])
    return (f"{co} to Announce Quarterly Results\n\n"
            f"{co} ({rng.choice(['NYSE', 'NASDAQ'])}: {tick}) will release its financial results for the {q} quarter "
            f"of 2024 after the market closes on February {rng.randint(3, 27)}, 2025. Management will host a "
            f"conference call to discuss the results at {rng.choice(['4:30', '5:00'])} p.m. Eastern Time the same "
            f"day.\n\n{CALL_DETAILS}\n\n{rng.choice(SAFE_HARBOR)}")


def match_report(rng: random.Random, used: set[str]) -> str:
    while True:
        home, away = rng.sample(TEAMS, 2)
        if f"{home}|{away}" not in used:
            used.add(f"{home}|{away}")
            break
    hs = rng.randint(2, 4)
    s1, s2, s3 = (_name(rng).split()[1] for _ in range(3))
    return (f"{home} {hs}-1 {away}\n\n"
            f"{home} came from behind to beat {away} {hs}-1 on Saturday and climb to {rng.randint(4, 12)}th in the "
            f"table.\n\n"
            f"The visitors took the lead after {rng.randint(3, 30)} minutes through {s1}, who finished low into the "
            f"bottom corner after a quick break down the left. {s2} equalised before half-time with a header from a "
            f"corner, and {s3} put the home side in front early in the second half with a shot from the edge of "
            f"the area. The home side added {['no more', 'a third', 'two more'][hs - 2]} in the closing stages as the visitors "
            "pushed forward in search of an equaliser.\n\n"
            "\"We showed a lot of character today after a difficult start and the players deserved the three "
            "points,\" said the home manager. \"We have to keep this going now.\"\n\n"
            f"Attendance: {rng.randint(3000, 29000):,}.")


def appointment(rng: random.Random, used: set[str]) -> str:
    co, tick = _company(rng, used)
    person, role = _name(rng), rng.choice(ROLES)
    return (f"{co} Names {person} {role}\n\n"
            f"{_lead(co, tick, rng)} today announced the appointment of {person} as {role}, effective "
            f"{_date(rng)}. {person.split()[1]} will report to the Chief Executive Officer and will join the company's "
            "executive leadership team.\n\n"
            f"{person.split()[1]} brings more than {rng.randint(12, 30)} years of experience in senior leadership roles "
            "at publicly traded companies, most recently as Senior Vice President at a Fortune 500 company.\n\n"
            "\"We are delighted to welcome such an experienced leader to our team at this important time for the "
            "company,\" said the Chief Executive Officer. \"This appointment strengthens our ability to execute our "
            "strategy and to deliver long-term value for our shareholders.\"\n\n"
            f"{rng.choice(SAFE_HARBOR)}")


def set_cd(bbc: dict[str, str], corpus: Path, sites: int = 5) -> Set:
    pairs = read_jsonl(corpus / "derived_duplicate_pairs.jsonl")
    groups = read_jsonl(corpus / "derived_same_title_groups.jsonl")
    taken = {d for p in pairs for d in (p["a"], p["b"])} | {d for g in groups for d in g["members"]}
    pool = sorted(d for d in bbc if d not in taken)
    rng = random.Random(SEED)
    originals = rng.sample(pool, 300)
    rest = sorted(set(pool) - set(originals))
    singles = rng.sample(rest, 150)
    texts: dict[str, str] = {}
    gold: dict[str, str] = {}
    copy_pairs: dict[str, list[Pair]] = defaultdict(list)
    c_docs: list[str] = []

    def put(head: str, text: str, salt: str, cluster: str) -> str:
        doc = f"site-{rng.randrange(sites)}/{_slug(head, salt)}.txt"
        assert doc not in texts, doc
        texts[doc], gold[doc] = text, cluster
        c_docs.append(doc)
        return doc

    ncopies: Counter[int] = Counter()
    for src in originals:
        head, _ = split_article(bbc[src])
        orig = put(head, bbc[src], src, src)
        n = rng.randint(2, 4)
        ncopies[n] += 1
        for k in range(n):
            chead, ctext, ops = syndicate(bbc[src], random.Random(f"{SEED}:{src}:{k}"))
            doc = put(chead, ctext, f"{src}:{k}", src)
            for op in ops:
                copy_pairs[op].append(frozenset((orig, doc)))
    for src in singles:
        head, _ = split_article(bbc[src])
        put(head, bbc[src], src, src)
    makers = [dividend, earnings, match_report, appointment]
    used: set[str] = set()
    d_docs: list[str] = []
    template: dict[str, str] = {}
    for maker in makers:
        for i in range(15):
            text = maker(rng, used)
            words = len(text.split())
            assert 80 <= words <= 200, (maker.__name__, words)
            doc = f"site-{rng.randrange(sites)}/{_slug(text.splitlines()[0], f'{maker.__name__}:{i}')}.txt"
            assert doc not in texts and text not in texts.values()
            texts[doc], gold[doc], template[doc] = text, doc, maker.__name__
            d_docs.append(doc)
    s = Set("C+D", "syndicated copies (C) and templated look-alikes (D), one scrape dir", texts, gold)
    gold_pairs = sum(_c2(n) for n in Counter(gold.values()).values())
    dj = sorted(_jaccard(texts[a], texts[b]) for i, a in enumerate(d_docs) for j, b in enumerate(d_docs)
                if i < j and i // 15 == j // 15)
    s.info.append(f"C: {len(originals)} originals with {sum(k * v for k, v in ncopies.items())} copies "
                  f"({dict(sorted(ncopies.items()))} originals with 2/3/4 copies), {len(singles)} singletons; "
                  f"{len(c_docs)} docs, {gold_pairs} gold pairs")
    s.info.append(f"D: {len(d_docs)} templated notices (4 templates x 15), all singletons; 5-shingle Jaccard "
                  f"between notices of one template: median {dj[len(dj) // 2]:.2f}, 90th pct {dj[len(dj) * 9 // 10]:.2f}, "
                  f"max {dj[-1]:.2f}; {sum(j >= 0.8 for j in dj)} of {len(dj)} pairs >= 0.8")
    cg = {d: gold[d] for d in c_docs}

    def c_scores(pred: dict[str, str]) -> str:
        tp, fp, fn = pair_counts(pred, cg, c_docs)
        p, r, f = prf(tp, fp, fn)
        return f"C alone: TP {tp} FP {fp} FN {fn}  P {p:.3f} R {r:.3f} F1 {f:.3f}"

    def d_merges(pred: dict[str, str]) -> str:
        by = ", ".join(f"{m.__name__} {pairs_within(pred, [d for d in d_docs if template[d] == m.__name__])}"
                       for m in makers)
        return (f"D pairs merged: {pairs_within(pred, d_docs)} among notices (target 0; by template: {by}), "
                f"{pairs_across(pred, d_docs, c_docs)} notice-article")

    def per_op(pred: dict[str, str]) -> str:
        return "original-copy pairs found by transform: " + ", ".join(
            f"{op} {merged(pred, copy_pairs[op])}/{len(copy_pairs[op])}" for op in TRANSFORMS)

    s.extras += [c_scores, d_merges, per_op]
    return s


def _jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y) if x | y else 1.0


# ---------------------------------------------------------------- run and print


def write_scrape(root: Path, texts: dict[str, str]) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for doc, text in texts.items():
        p = root / doc
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8"))


def score_row(name: str, pred: dict[str, str], s: Set, seconds: float) -> dict[str, Any]:
    tp, fp, fn = pair_counts(pred, s.gold, s.texts, s.exclude)
    p, r, f = prf(tp, fp, fn)
    return {"method": name, "tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(f, 4), "seconds": round(seconds, 2), "extras": [x(pred) for x in s.extras]}


def print_set(s: Set, rows: list[dict[str, Any]]) -> None:
    print(f"\nSet {s.key}: {s.title}")
    for line in s.info:
        print(f"  {line}")
    print(f"  {'method':<17}{'TP':>7}{'FP':>8}{'FN':>7}{'P':>8}{'R':>7}{'F1':>7}{'wall s':>9}   dedupe F1 / this F1")
    ded = next((r for r in rows if r["method"] == "dedupe run" and "error" not in r), None)
    for r in rows:
        if "error" in r:
            print(f"  {r['method']:<17}ERROR: {r['error']}")
            continue
        ratio = ""
        if ded is not None and r is not ded:
            ratio = f"{ded['f1'] / r['f1']:.2f}x" if r["f1"] else "n/a (F1 0)"
            r["dedupe_f1_ratio"] = None if not r["f1"] else round(ded["f1"] / r["f1"], 3)
        print(f"  {r['method']:<17}{r['tp']:>7}{r['fp']:>8}{r['fn']:>7}{r['precision']:>8.3f}{r['recall']:>7.3f}"
              f"{r['f1']:>7.3f}{r['seconds']:>9.2f}   {ratio}")
    for r in rows:
        if "error" in r:
            continue
        for line in r.get("notes", []):
            print(f"    [{r['method']}] note: {line}")
        for line in r["extras"]:
            print(f"    [{r['method']}] {line}")


def evaluate(s: Set, work: Path, cmd: list[str], extra: list[str]) -> list[dict[str, Any]]:
    scrape = work / f"set-{s.key.replace('+', '')}"
    write_scrape(scrape, s.texts)
    rows = []
    t0 = time.perf_counter()
    res = dedupe_run(cmd, scrape, s.texts, extra)
    took = time.perf_counter() - t0
    if res.pred is None:
        rows.append({"method": "dedupe run", "error": res.error, "seconds": round(took, 2)})
    else:
        row = score_row("dedupe run", res.pred, s, took)
        row["notes"] = res.notes + [f"report kinds: {dict(res.kinds)}"]
        rows.append(row)
    for name, fn in (("exact-hash", exact_hash), ("minhash-lsh-0.8", minhash_lsh)):
        t0 = time.perf_counter()
        pred = fn(s.texts)
        rows.append(score_row(name, pred, s, time.perf_counter() - t0))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default="../shared", help="the shared folder holding corpora/ (default ../shared)")
    ap.add_argument("--jobs", type=int, help="passed to dedupe run --jobs")
    ap.add_argument("--threshold", type=float, help="passed to dedupe run --threshold")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--workdir", help="build the scrape dirs here and keep them (default: a temp dir)")
    ap.add_argument("--cmd", default=f"{shlex.quote(sys.executable)} -m dedupe.cli",
                    help="the dedupe command (default: this python -m dedupe.cli)")
    args = ap.parse_args()
    start = time.perf_counter()
    corpora = Path(args.shared) / "corpora"
    bbc_dir, aeb_dir = corpora / "bbc-news-2225", corpora / "article-extraction-benchmark"
    extra = (["--jobs", str(args.jobs)] if args.jobs else []) + \
            (["--threshold", str(args.threshold)] if args.threshold is not None else [])
    cmd = shlex.split(args.cmd)
    bbc = bbc_texts(bbc_dir)
    sets = [set_a(bbc_dir, bbc), set_b(aeb_dir), set_cd(bbc, bbc_dir)]
    print(f"dedupe run quality: {shlex.join(cmd)} run DIR --out OUT --report REPORT {shlex.join(extra)}".rstrip())
    print("pairwise P/R/F1 over all unordered document pairs; baselines in-process on the same texts "
          "(wall s: dedupe = whole subprocess, baselines = hashing + clustering)")
    results: dict[str, Any] = {"command": shlex.join(cmd), "extra_args": extra, "sets": {}}
    with tempfile.TemporaryDirectory(prefix="quality_run_") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for s in sets:
            rows = evaluate(s, work, cmd, extra)
            print_set(s, rows)
            results["sets"][s.key] = {"title": s.title, "docs": len(s.texts), "info": s.info, "rows": rows}
    print("\nWithin-document (the cleaner inside `dedupe run`), on the 10 scrapers' outputs of set B:")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from within_doc import main as within_doc

    results["within_document"] = within_doc(aeb_dir)
    total = time.perf_counter() - start
    print(f"\ntotal wall time {total:.1f} s")
    results["total_seconds"] = round(total, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
