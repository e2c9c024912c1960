"""Inside one article: find the headline, drop repeated headlines and paragraphs, emit canonical text.

Every removal needs evidence. A paragraph is removed only when it matches an earlier one
(exactly, as a near repeat, or as a truncated/partial copy) and either both are long enough
(``min_words``), or it belongs to a repeated run of paragraphs, or it repeats the line just
before it word for word, or it is a title-like line of five or more words (a link or menu text
in a page dump) repeated word for word. A question, or a short
line, that recurs three or more times, each time followed by new text, is structure (a Q&A,
a fixture list's "Winners meet in final match"), not damage, and stays.
The most complete version of a repeated paragraph is kept, at the place it first appeared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from .clean import normalize_newlines, repair
from .config import CleanOptions, Options
from .records import CleanResult, Finding, Paragraph
from .segment import segment
from .shingle import (
    first_tokens,
    joined_key,
    joined_tokens,
    token_shingles,
    token_text,
    token_texts,
    tokens,
    without_last,
)
from .speedups import native

HEADLINE_WINDOW = 5  # the headline and its copies are looked for among the first paragraphs
HEADLINE_MAX_TOKENS = 30
HEADLINE_MAX_CHARS = 250
SUBSET_RATIO = 0.9  # containment is for a copy at most this share of the other's length
TITLE_REPEAT_WORDS = 5  # a title line this long, repeated word for word, is a link or nav copy
PREFIX_WORDS = 5  # ... that starts like it, or ends in an ellipsis (a pull quote from mid-paragraph stays)
POSTING_CAP = 200  # a shingle in more paragraphs than this is too common to find candidates
_SLACK = 2  # paragraphs this close to _Article.may_repeat's bound are compared all the same

_SEPARATORS = "|-–—·"  # what separates a headline from its site suffix
_SEP = re.escape(_SEPARATORS)
_SUFFIX_TOKENS = 5  # a site suffix has at most this many tokens
_SITE_SUFFIX_RE = re.compile(rf"\s+[{_SEP}]{{1,2}}\s+(?=[^{_SEP}]*$)")  # the last " | ", " - ", " – "...
_ELLIPSIS = ("...", "…")
_AFTER_ELLIPSIS = "\"'”’)]"  # what may follow a truncated summary's ellipsis
_SUFFIX_SEPARATOR_RE = re.compile(f" [{_SEP}]")  # a site suffix starts with one (text is squashed)
_CLOSERS = "\"')]»”’」』"
_SENTENCE_END = tuple(".,;:…。，；：")
_QUESTION = ("?", ":", "？", "：")
_ANY_SENTENCE_END = tuple(".,;:…!?。，；：！？")


@dataclass(frozen=True, slots=True)
class _Match:
    target: int
    similarity: float
    rule: str


def _ends_in_ellipsis(text: str) -> bool:
    return text.rstrip(_AFTER_ELLIPSIS).endswith(_ELLIPSIS)


def _ngrams(toks: list[str], k: int) -> set[object]:
    """The distinct word k-grams of a paragraph (words themselves for k = 1)."""
    return set(toks) if k == 1 else set(zip(*(toks[m:] for m in range(k))))


def _top_ngrams(toks: list[str], size: int) -> set[object]:
    """Its longest n-grams: ``size``-grams, or the whole paragraph when it is shorter."""
    return _ngrams(toks, min(len(toks), size)) if toks else set()


class _Article:
    """Per-article working state: tokens, keys and shingles of each paragraph."""

    def __init__(self, paragraphs: tuple[str, ...], opts: CleanOptions) -> None:
        self.paras = paragraphs
        self.opts = opts
        # every paragraph's tokens, joined as bytes (what signatures see; see token_texts), and how many
        self.words, self.word_counts = token_texts(paragraphs)
        self.truncated = [_ends_in_ellipsis(p) for p in paragraphs]
        # as compared: a truncated summary's last word may be cut in half, so it is left out
        cut = [t and n > 1 for t, n in zip(self.truncated, self.word_counts)]
        self.toks = [without_last(w) if c else w for w, c in zip(self.words, cut)]  # joined, as compared
        self.sizes = [n - c for n, c in zip(self.word_counts, cut)]  # how many tokens each has, as compared
        self.keys = list(map(joined_key, self.toks))  # as compared
        self._shingles: dict[int, tuple[frozenset[int], frozenset[int]]] = {}
        self._word_cache: dict[str, int] = {}
        self._token_lists: list[list[str]] | None = None

    def word_keys(self) -> list[int]:
        """The key (:func:`~dedupe.shingle.joined_key`) of each paragraph's every token: its key as
        compared, unless truncated."""
        return [joined_key(w) if cut else k for w, cut, k in zip(self.words, self.truncated, self.keys)]

    def token_lists(self) -> list[list[str]]:
        """Each paragraph's tokens as compared, as lists of str (the Python code's form; made once)."""
        if self._token_lists is None:
            self._token_lists = [joined_tokens(t) for t in self.toks]
        return self._token_lists

    def _sets(self, i: int) -> tuple[frozenset[int], frozenset[int]]:
        s = self._shingles.get(i)
        if s is None:
            s = self._shingles[i] = token_shingles(joined_tokens(self.toks[i]), self.opts.shingle_size,
                                                   self._word_cache)
        return s

    def shingles(self, i: int) -> frozenset[int]:
        """Paragraph i's word n-grams, n = 1..shingle_size, hashed."""
        return self._sets(i)[0]

    def keys_for_candidates(self, i: int) -> frozenset[int]:
        """Its longest n-grams only: rarer, so the inverted index stays short."""
        return self._sets(i)[1]

    def may_repeat(self) -> list[int]:
        """The paragraphs that can match another one; only they need shingle sets.

        Paragraphs are compared only when they share a candidate key (a longest n-gram), and a
        near match (Jaccard ``t``) or containment (``c``) needs more: with ``S`` a paragraph's
        shingles and ``T`` its longest n-grams, the two share at least ``min(t, c)·|S| - (|S| -
        |T|)`` longest n-grams, so the paragraph that is matched (or contained) has at least that
        many n-grams found elsewhere in the article. That count is taken on the words themselves
        (sets of word tuples, no xxhash or numpy). Paragraphs that pass, and those that share a
        candidate key with one that passes, are returned. The compiled kernel
        (:mod:`dedupe.speedups`) gives the same list.
        """
        if native is not None:
            found: list[int] = native.may_repeat(self.toks, self.opts.shingle_size,
                                                 min(self.opts.threshold, self.opts.containment), _SLACK)
            return found
        return self._may_repeat()

    def _may_repeat(self) -> list[int]:
        if len(self.toks) < 2:
            return []
        size = self.opts.shingle_size
        lists = self.token_lists()
        tops = [_top_ngrams(toks, size) for toks in lists]  # each paragraph's longest n-grams
        seen: set[object] = set()
        shared: set[object] = set()  # n-grams of two or more paragraphs
        for top in tops:
            shared |= seen & top
            seen |= top
        if not shared:
            return []
        rate = min(self.opts.threshold, self.opts.containment)
        keys: set[object] = set()  # the shared n-grams of paragraphs that pass
        for toks, top in zip(lists, tops):
            found = top & shared
            if not found:
                continue
            # The bound, n_top - (1 - rate)·|S| - slack, falls as |S| grows: with |S| at its most
            # (every shorter n-gram distinct) a paragraph that fails is settled without counting them.
            n_top, longest = len(top), min(len(toks), size)
            most = n_top + sum(len(toks) - k + 1 for k in range(1, longest))
            if len(found) < n_top - (1 - rate) * most - _SLACK - 1e-6:
                continue
            n_all = n_top + sum(len(_ngrams(toks, k)) for k in range(1, longest))
            if len(found) >= rate * n_all - (n_all - n_top) - _SLACK:
                keys |= found
        return [i for i, top in enumerate(tops) if not keys.isdisjoint(top)] if keys else []

    def compare(self, i: int, j: int) -> _Match | None:
        """Exact, near or containment match of paragraph i against paragraph j, if any."""
        if self.keys[i] == self.keys[j]:
            return _Match(j, 1.0, "exact")
        return self.judge(i, j, len(self.shingles(i) & self.shingles(j)))

    def is_title_line(self, i: int) -> bool:
        """No sentence punctuation at the end: a headline, a link text, a menu line."""
        return not self.paras[i].rstrip(_CLOSERS).endswith(_ANY_SENTENCE_END)

    def jaccard(self, i: int, j: int) -> float:
        a, b = self.shingles(i), self.shingles(j)
        return len(a & b) / len(a | b) if a or b else 1.0

    def judge(self, i: int, j: int, inter: int) -> _Match | None:
        """Near or containment match of i against j, given the count of shingles they share."""
        a, b = len(self.shingles(i)), len(self.shingles(j))
        jaccard = inter / (a + b - inter)
        if jaccard >= self.opts.threshold:
            return _Match(j, jaccard, "near")
        short, long = (i, j) if self.sizes[i] <= self.sizes[j] else (j, i)
        n = self.sizes[short]
        if (
            n >= self.opts.min_words
            and n <= SUBSET_RATIO * self.sizes[long]
            and (self.truncated[short] or first_tokens(self.toks[short], PREFIX_WORDS) == first_tokens(self.toks[long], PREFIX_WORDS))
        ):
            contained = inter / min(a, b)
            if contained >= self.opts.containment:
                return _Match(j, contained, "containment")
        return None


def _strip_site_suffix(text: str) -> str:
    """"Headline | Site" -> "Headline", when the last part is short (a site or agency name)."""
    # The separator is the text's last run of separator characters, so the regex is tried only
    # from the whitespace before it (a split of the whole text tries it at every space).
    last = max(map(text.rfind, _SEPARATORS))
    start = last - 1 if last > 0 and text[last - 1] in _SEPARATORS else last
    while start > 0 and text[start - 1].isspace():
        start -= 1
    m = _SITE_SUFFIX_RE.match(text, start) if last > 0 else None
    if m is None:
        return text
    head, tail = text[: m.start()], text[m.end() :]
    if 0 < len(tokens(tail)) <= _SUFFIX_TOKENS and len(tokens(head)) >= 3:  # the tail first: mostly it is short
        return head
    return text


def _title_like(text: str, size: int) -> bool:
    """Short (``size`` tokens), and not ending like a sentence or a clause."""
    return (
        0 < size <= HEADLINE_MAX_TOKENS
        and len(text) <= HEADLINE_MAX_CHARS
        and not text.rstrip(_CLOSERS).endswith(_SENTENCE_END)
    )


def _is_caps(text: str) -> bool:
    """More than three cased characters, all upper-case (stops at the first that is not)."""
    cased = 0
    for c in text:
        if c.lower() != c.upper():
            if not c.isupper():
                return False
            cased += 1
    return cased > 3


class _Headline:
    """The headline's index, the copies to remove and the version to keep."""

    def __init__(self, art: _Article) -> None:
        self.art = art
        self._stripped: dict[int, tuple[bytes, int] | None] = {}

    def stripped(self, i: int) -> tuple[bytes, int] | None:
        """Paragraph i's tokens without its site suffix (joined, and how many), or None when it has
        none (worked out once)."""
        if i not in self._stripped:
            p, found = self.art.paras[i], None
            if _SUFFIX_SEPARATOR_RE.search(p):  # cheap test before the split
                s = _strip_site_suffix(p)
                if s != p:
                    found = token_text(s)
            self._stripped[i] = found
        return self._stripped[i]

    def title_like(self, i: int) -> bool:
        return _title_like(self.art.paras[i], self.art.sizes[i])

    def copies(self, c: int) -> list[int]:
        """Paragraphs that repeat paragraph c as a headline (exact, with a site suffix, in caps)."""
        toks, counts = self.art.toks, self.art.word_counts
        full, size = toks[c], self.art.sizes[c]
        short, short_size = self.stripped(c) or (None, 0)
        far_ok = size >= 3 or short_size >= 3
        found = []
        for j in range(len(toks)) if far_ok else range(min(len(toks), HEADLINE_WINDOW)):
            if j == c:
                continue
            # either version of j equal to either version of c (joined tokens: case and typography aside);
            # a suffix holds 1 to 5 of a paragraph's tokens, so a longer paragraph cannot match stripped
            if toks[j] == full or toks[j] == short or (
                counts[j] <= size + _SUFFIX_TOKENS
                and (mine := self.stripped(j)) is not None
                and (mine[0] == full or mine[0] == short)
            ):
                found.append(j)
        return found

    def repeated(self) -> tuple[int, list[int]] | None:
        """The headline and its copies, when the article repeats it.

        A title-like first paragraph is the headline (its copies may be anywhere). Lower down,
        the first title-like paragraph among the first few is the headline if it is repeated at
        once (a page's title, then its h1), and it moves to the top.
        """
        if self.art.paras and self.title_like(0):
            return 0, self.copies(0)
        for c in range(1, min(len(self.art.paras), HEADLINE_WINDOW)):
            if self.title_like(c) and self.art.sizes[c] >= 2:
                copies = self.copies(c)
                return (c, copies) if c + 1 in copies else None
        return None

    def best_version(self, group: list[int]) -> int:
        """Prefer a copy without a site suffix, then not in capitals, then the first."""
        return min(group, key=lambda i: (self.stripped(i) is not None, _is_caps(self.art.paras[i]), i))

    def rule(self, i: int, kept: int) -> str:
        if self.art.toks[i] != self.art.toks[kept]:
            return "suffix"
        if self.art.paras[i] != self.art.paras[kept]:
            return "case" if _is_caps(self.art.paras[i]) != _is_caps(self.art.paras[kept]) else "exact"
        return "exact"


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cluster(art: _Article, skip: set[int]) -> tuple[list[int], dict[int, _Match]]:
    """Each paragraph joins the earlier cluster head it matches best, or starts a cluster.

    Returns each paragraph's cluster (its head's index) and how each member matched its head.
    Candidates come from an inverted index of the heads' longest n-grams (any near or truncated
    copy shares some); equal texts from a dict. The compiled kernel (:mod:`dedupe.speedups`)
    gives the same clusters and matches.
    """
    if native is not None:
        o = art.opts
        rules = (o.shingle_size, o.min_words, PREFIX_WORDS, POSTING_CAP, o.threshold, o.containment, SUBSET_RATIO)
        heads, matches = native.cluster(art.may_repeat(), art.toks, art.keys, art.truncated, skip, rules)
        return heads, {i: _Match(head, similarity, rule) for i, head, similarity, rule in matches}
    return _py_cluster(art, skip)


def _py_cluster(art: _Article, skip: set[int]) -> tuple[list[int], dict[int, _Match]]:
    n = len(art.paras)
    cluster = list(range(n))
    matched: dict[int, _Match] = {}
    exact_heads: dict[int, int] = {}
    postings: dict[int, list[int]] = defaultdict(list)
    for i in art.may_repeat():
        if i in skip or not art.toks[i]:
            continue
        head = exact_heads.get(art.keys[i])
        if head is not None:
            cluster[i], matched[i] = head, _Match(head, 1.0, "exact")
            continue
        candidates: set[int] = set()
        for s in art.keys_for_candidates(i):
            heads = postings.get(s)
            if heads and len(heads) <= POSTING_CAP:
                candidates.update(heads)
        mine = art.shingles(i)
        best: _Match | None = None
        for h in sorted(candidates):
            m = art.judge(i, h, len(mine & art.shingles(h)))
            if m is not None and (best is None or m.similarity > best.similarity):
                best = m
        if best is not None:
            cluster[i], matched[i] = best.target, best
        else:
            exact_heads[art.keys[i]] = i
            for s in art.keys_for_candidates(i):
                postings[s].append(i)
    return cluster, matched


def _removals(art: _Article, cluster: list[int], matched: dict[int, _Match]) -> dict[int, int]:
    """Which cluster members go (index -> head): only those with evidence beyond similarity."""
    n, min_words = len(art.paras), art.opts.min_words

    def in_run(i: int, e: int) -> bool:
        """Whether i and e sit in aligned runs of at least two paragraphs and min_words words.

        Walks outwards from the pair only until that is shown, so a long repeated stretch costs
        no more than a short one.
        """
        count, words = 1, art.sizes[i]
        for step in (-1, 1):
            a, b = i + step, e + step
            while 0 <= a < n and 0 <= b < n and a != b and cluster[a] == cluster[b]:
                count, words = count + 1, words + art.sizes[a]
                if count >= 2 and words >= min_words:
                    return True
                a, b = a + step, b + step
        return False

    if not matched:
        return {}  # most articles: no paragraph matched another
    members: dict[int, list[int]] = defaultdict(list)
    for i in sorted(matched):
        members[cluster[i]].append(i)
    singles = {i for i in range(n) if i not in members and i not in matched}
    removed: dict[int, int] = {}
    for head, mem in members.items():
        occurrences = [head, *mem]
        # in a repeated run with its cluster's head or with the copy before it
        blocky = {i for i, prev in zip(mem, occurrences) if in_run(i, head) or in_run(i, prev)}
        if (
            len(mem) >= 2
            and not blocky
            and (art.paras[head].rstrip(_CLOSERS).endswith(_QUESTION) or art.sizes[head] < min_words)
            and all(i + 1 in singles or i + 1 == n for i in occurrences)
        ):
            continue  # a question or short line recurring before new text each time: structure
        for i in mem:
            exact = art.keys[i] == art.keys[head]
            stutter = exact and cluster[i - 1] == head and art.keys[i - 1] == art.keys[i]  # twice running
            link = exact and art.sizes[i] >= TITLE_REPEAT_WORDS and art.is_title_line(i)
            if i in blocky or stutter or link or min(art.sizes[i], art.sizes[head]) >= min_words:
                removed[i] = head
    return removed


def _most_complete(
    art: _Article, removed: dict[int, int], matched: dict[int, _Match], doc: str
) -> tuple[dict[int, int], dict[int, list[int]], list[Finding]]:
    """Each cluster's most complete version, to be kept where the cluster first appeared.

    Returns where each kept position takes its text from, the removed copies of each head,
    and a finding for every copy whose text is dropped.
    """
    text_from: dict[int, int] = {}
    groups: dict[int, list[int]] = defaultdict(list)
    for i, head in sorted(removed.items()):
        groups[head].append(i)
    findings = []
    for head, gone in groups.items():
        group = [head, *gone]
        best = max(group, key=lambda i: (art.sizes[i], -i))
        text_from[head] = best
        for i in group:
            if i != best:
                m = art.compare(i, best)
                if m is None:  # both matched the head, not each other: say how this one joined
                    joined = matched.get(i) or matched[best]
                    m = _Match(best, art.jaccard(i, best), joined.rule)
                findings.append(
                    Finding("duplicate_paragraph", doc, i, best, m.similarity, m.rule,
                            _excerpt(art.paras[i], art.opts.excerpt_chars))
                )
    return text_from, groups, findings


def analyse(
    paragraphs: tuple[str, ...],
    opts: CleanOptions,
    doc: str,
    layout: str = "lines",
    repaired: bool = False,
) -> CleanResult:
    """Headline and paragraph dedup over already segmented paragraphs."""
    return _analyse(paragraphs, opts, doc, layout, repaired)[0].result()


class Analysis(NamedTuple):
    """A :class:`CleanResult` before its :class:`Paragraph` objects are made: a corpus run reads the
    kept paragraphs from these lists (a few hundred thousand objects a run fewer)."""

    doc: str
    text: str
    headline: str | None
    sources: list[int]  # each kept paragraph's input index (where its text is taken from)
    texts: list[str]  # its text
    findings: list[Finding]
    layout: str
    repaired: bool

    def result(self) -> CleanResult:
        paragraphs = tuple(map(Paragraph, self.sources, self.texts))
        return CleanResult(self.doc, self.text, self.headline, paragraphs, tuple(self.findings), self.layout,
                           self.repaired)


def _analyse(
    paragraphs: tuple[str, ...], opts: CleanOptions, doc: str, layout: str, repaired: bool
) -> tuple[Analysis, list[bytes], list[int], list[int]]:
    art = _Article(paragraphs, opts)
    n = len(paragraphs)
    hl = _Headline(art)

    headline: int | None = None  # the headline's place in the input
    group: set[int] = set()  # the headline and its copies
    if n and opts.headline != "none":
        found = hl.repeated() if opts.headline == "auto" else (0, hl.copies(0))
        if found is not None:
            headline, group = found[0], {found[0], *found[1]}

    cluster, matched = _cluster(art, group)
    removed = _removals(art, cluster, matched)
    text_from, copies, findings = _most_complete(art, removed, matched, doc)

    # A headline below a summary: every paragraph above it reappears further down.
    if headline is None and n and opts.headline == "auto":
        for c in range(1, min(n, 3)):
            if not any(r > c for r in copies.get(cluster[c - 1], ())):
                break
            if hl.title_like(c):
                headline, group = c, {c, *hl.copies(c)}
                findings = [f for f in findings if f.index not in group]  # now headline copies
                break

    headline_text = None
    if headline is not None:
        chosen = hl.best_version(sorted(group))
        headline_text = paragraphs[chosen]
        findings += [
            Finding("duplicate_headline", doc, i, chosen, 1.0, hl.rule(i, chosen),
                    _excerpt(paragraphs[i], opts.excerpt_chars))
            for i in sorted(group - {chosen})
        ]

    if removed or group or text_from:
        sources = [text_from.get(i, i) for i in range(n) if i not in removed and i not in group]
        texts = [paragraphs[i] for i in sources]
    else:  # most articles: nothing removed
        sources, texts = list(range(n)), list(paragraphs)
    parts = [headline_text, *texts] if headline_text is not None else texts
    text = "\n\n".join(parts) + "\n" if parts else ""
    findings.sort(key=lambda f: (f.index, f.kind))
    analysis = Analysis(doc, text, headline_text, sources, texts, findings, layout, repaired)
    return analysis, art.words, art.word_counts, art.word_keys()


def clean_text(
    text: str, options: Options | CleanOptions | None = None, doc: str = "<text>"
) -> CleanResult:
    """Canonical text of one article: repaired, one headline, each distinct paragraph once.

    >>> r = clean_text("Storm hits coast\\n\\nStorm hits coast\\n\\nHigh winds cut power to homes.\\n")
    >>> print(r.text, end="")
    Storm hits coast
    <BLANKLINE>
    High winds cut power to homes.
    >>> [(f.kind, f.index, f.duplicate_of) for f in r.findings]
    [('duplicate_headline', 1, 0)]
    """
    return clean_tokens(text, options, doc)[0].result()


def clean_tokens(
    text: str, options: Options | CleanOptions | None = None, doc: str = "<text>"
) -> tuple[Analysis, list[bytes], list[int], list[int]]:
    """:func:`clean_text` as an :class:`Analysis`, the tokens of every input paragraph (``sources``
    index into them) joined as :func:`~dedupe.shingle.token_texts` joins them, how many each has, and
    their :func:`~dedupe.shingle.text_key`.

    A corpus run signs the kept paragraphs with these tokens instead of splitting them again.
    """
    opts = options.clean if isinstance(options, Options) else options or CleanOptions()
    if opts.repair:
        fixed, repaired = repair(text)
    else:
        fixed, repaired = normalize_newlines(text), False
    seg = segment(fixed, opts.layout)
    return _analyse(seg.paragraphs, opts, doc, seg.layout, repaired)
