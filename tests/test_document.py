"""Headline and paragraph rules, one behaviour a test, on real BBC text.

Paragraphs below are from bbc-news-2225 articles/tech/019.txt (see fixtures/clean/SOURCE.md).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import CleanOptions, ConfigError, Options, clean_text
from dedupe.document import _SITE_SUFFIX_RE, _Article, _is_caps, _strip_site_suffix
from dedupe.prepare import _RIGHTS_RE, _all_rights_reserved, _without_text, body_for_matching
from dedupe.records import Article
from dedupe.shingle import tokens

HEADLINE = "Intel unveils laser breakthrough"
P1 = "Intel has unveiled research that could mean data is soon being moved around chips at the speed of light."
P2 = (
    "Scientists at Intel have overcome a fundamental problem that before now has prevented silicon being "
    "used to generate and amplify laser light. The breakthrough should make it easier to interconnect data "
    "networks with the chips that process the information."
)
P3 = (
    "\"We've overcome a fundamental limit,\" said Dr Mario Paniccia, director of Intel's photonics "
    "technology lab. Writing in the journal Nature, Dr Paniccia and colleagues show how they have made a "
    "continuous laser from the same material used to make computer processors."
)
P4 = (
    "Currently, says Dr Paniccia, telecommunications equipment that amplifies the laser light that travels "
    "down fibre optic cables is very expensive because of the exotic materials used to make it."
)


def article(*paras: str) -> str:
    return "\n\n".join(paras) + "\n"


def kinds(result):
    return [(f.kind, f.index, f.duplicate_of, f.rule) for f in result.findings]


def test_clean_article_is_unchanged():
    r = clean_text(article(HEADLINE, P1, P2, P3))
    assert r.text == article(HEADLINE, P1, P2, P3)
    assert r.headline == HEADLINE and r.findings == ()


@pytest.mark.parametrize(
    "copy, rule",
    [
        (HEADLINE, "exact"),
        (HEADLINE + " | BBC News", "suffix"),
        (HEADLINE + " - Reuters", "suffix"),
        (HEADLINE.upper(), "case"),
    ],
)
def test_headline_copy_as_first_body_paragraph(copy, rule):
    r = clean_text(article(HEADLINE, copy, P1, P2))
    assert r.text == article(HEADLINE, P1, P2)
    assert kinds(r) == [("duplicate_headline", 1, 0, rule)]


def test_clean_headline_wins_over_suffixed_and_caps_copies():
    r = clean_text(article(HEADLINE.upper(), HEADLINE + " | BBC News", HEADLINE, P1))
    assert r.text == article(HEADLINE, P1)
    assert sorted(f.index for f in r.findings) == [0, 1]
    assert all(f.duplicate_of == 2 for f in r.findings)


def test_headline_below_a_lead_moves_to_the_top():
    r = clean_text(article(P1, HEADLINE, HEADLINE, P2))
    assert r.text == article(HEADLINE, P1, P2)


def test_summary_above_headline_is_dropped_and_lead_kept_once():
    r = clean_text(article(P2, HEADLINE, P2, P3))
    assert r.text == article(HEADLINE, P2, P3)
    assert kinds(r) == [("duplicate_paragraph", 2, 0, "exact")]


@pytest.mark.parametrize("ellipsis", ["...", "…"])
def test_truncated_summary_gives_way_to_the_full_paragraph(ellipsis):
    truncated = P2[:120].rsplit(" ", 1)[0][:-3] + ellipsis  # cut mid-word, as scrapers do
    r = clean_text(article(truncated, HEADLINE, P2, P3))
    assert r.text == article(HEADLINE, P2, P3)
    (f,) = r.findings
    assert (f.kind, f.index, f.duplicate_of, f.rule) == ("duplicate_paragraph", 0, 2, "containment")
    assert f.text == truncated


def test_repeated_block_at_the_end():
    r = clean_text(article(HEADLINE, P1, P2, P3, P4, P2, P3, P4))
    assert r.text == article(HEADLINE, P1, P2, P3, P4)
    assert [(f.index, f.duplicate_of) for f in r.findings] == [(5, 2), (6, 3), (7, 4)]


def test_one_word_change_is_a_near_repeat_and_the_longer_version_is_kept_first():
    changed = P3.replace("continuous", "continuously working")
    r = clean_text(article(HEADLINE, P3, P1, changed))
    assert r.text == article(HEADLINE, changed, P1)
    (f,) = r.findings
    assert (f.index, f.duplicate_of, f.rule) == (1, 3, "near") and 0.8 <= f.similarity < 1


def test_threshold_is_configurable():
    changed = P3.replace("continuous", "pulsed").replace("journal", "magazine")
    loose = clean_text(article(HEADLINE, P3, changed), Options.of(threshold=0.6))
    strict = clean_text(article(HEADLINE, P3, changed), Options.of(threshold=0.95))
    assert len(loose.paragraphs) == 1 and len(strict.paragraphs) == 2


def test_short_repeated_subheading_is_not_removed():
    r = clean_text(article(HEADLINE, "Analysis", P1, P2, "Analysis", P3))
    assert r.text == article(HEADLINE, "Analysis", P1, P2, "Analysis", P3)
    assert r.findings == ()


def test_short_line_repeated_inside_a_repeated_block_goes_with_it():
    r = clean_text(article(HEADLINE, "Analysis", P2, P3, "Analysis", P2))
    assert r.text == article(HEADLINE, "Analysis", P2, P3)
    assert [f.index for f in r.findings] == [4, 5]


def test_question_recurring_for_each_interviewee_is_structure_not_damage():
    q = "What inspired you to start cooking for other people, and what do you like to make?"
    answers = [P1, P3, P4]
    text = article(HEADLINE, *(x for a in answers for x in (q, a)))
    r = clean_text(text)
    assert r.text == text and r.findings == ()


def test_two_different_templated_lines_are_both_kept():
    a = "Vote for Olesya on the last page of this article!"
    b = "Vote for Daria on the last page of this article!"
    r = clean_text(article(HEADLINE, P1, a, P2, b))
    assert len(r.paragraphs) == 4


def test_headline_modes():
    text = article(P1, P2)
    assert clean_text(text).headline is None
    assert clean_text(text, Options.of(headline="first")).headline == P1
    r = clean_text(article(HEADLINE, P1, HEADLINE), Options.of(headline="none"))
    assert r.headline is None and r.text == article(HEADLINE, P1, HEADLINE)  # short lines: no evidence
    assert clean_text(article(HEADLINE, P1, HEADLINE)).text == article(HEADLINE, P1)


def test_a_line_repeated_at_once_is_a_stutter_whatever_its_length():
    r = clean_text(article(HEADLINE, P1, "Photo: AP", "Photo: AP", P2), Options.of(headline="none"))
    assert r.text == article(HEADLINE, P1, "Photo: AP", P2)
    assert [(f.index, f.duplicate_of, f.rule) for f in r.findings] == [(3, 2, "exact")]


def test_unspaced_script_paragraph_repeat_is_found_on_characters():
    zh = "英特尔公司宣布了一项激光技术突破，这可能意味着数据很快就能以光速在芯片之间传输。"
    r = clean_text(article("英特尔发布激光突破", zh, P1, zh))
    assert [p.text for p in r.paragraphs] == [zh, P1]


def test_bad_options_are_a_config_error():
    with pytest.raises(ConfigError):
        CleanOptions(threshold=1.5)
    with pytest.raises(ConfigError):
        CleanOptions(layout="columns")


def test_empty_text_gives_empty_canonical_text():
    r = clean_text("")
    assert r.text == "" and r.paragraphs == () and r.headline is None


_WORDS = " ".join((P1, P2, P3, P4)).split()


@st.composite
def _edited_paragraphs(draw):
    """Paragraphs of real words, some copies of earlier ones with words cut, changed or added."""
    paras: list[list[str]] = []
    for _ in range(draw(st.integers(2, 7))):
        if paras and draw(st.booleans()):
            words = list(draw(st.sampled_from(paras)))
            for _ in range(draw(st.integers(0, 3))):
                at = draw(st.integers(0, len(words)))
                edit = draw(st.sampled_from(["cut", "change", "add", "truncate"]))
                if edit == "truncate":
                    words = words[: max(1, at)] + ["..."]
                elif edit == "cut" and at < len(words):
                    del words[at]
                else:
                    words[at:at + (edit == "change")] = [draw(st.sampled_from(_WORDS))]
        else:
            start = draw(st.integers(0, len(_WORDS) - 1))
            words = _WORDS[start : start + draw(st.integers(1, 40))]
        paras.append(words)
    return tuple(" ".join(w) for w in paras)


@settings(max_examples=300, deadline=None)
@given(_edited_paragraphs())
def test_every_paragraph_that_matches_another_is_a_candidate(paragraphs):
    # may_repeat only spares the work of comparing: a paragraph it leaves out must match no other one
    art = _Article(paragraphs, CleanOptions())
    candidates = set(art.may_repeat())
    for i in range(len(paragraphs)):
        for j in range(len(paragraphs)):
            if i != j and art.toks[i] and art.toks[j] and art.compare(i, j) is not None:
                assert {i, j} <= candidates, (i, j, art.compare(i, j))


def _may_repeat_counting_all(art: _Article) -> list[int]:
    """may_repeat as first written: every paragraph's n-grams of every size counted."""
    size, opts = art.opts.shingle_size, art.opts
    tops, sizes = [], []
    for toks in art.token_lists():
        total, top = 0, set()
        for k in range(1, min(len(toks), size) + 1):
            top = set(toks) if k == 1 else set(zip(*(toks[m:] for m in range(k))))
            total += len(top)
        tops.append(top)
        sizes.append((total, len(top)))
    seen, shared = set(), set()
    for top in tops:
        shared |= seen & top
        seen |= top
    keys = set()
    for top, (n_all, n_top) in zip(tops, sizes):
        found = top & shared
        if found and len(found) >= min(opts.threshold, opts.containment) * n_all - (n_all - n_top) - 2:
            keys |= found
    return [i for i, top in enumerate(tops) if not keys.isdisjoint(top)] if keys else []


@settings(max_examples=300, deadline=None)
@given(_edited_paragraphs(), st.integers(1, 4), st.sampled_from([0.5, 0.8, 0.9, 1.0]))
def test_may_repeat_skips_counting_only_where_the_count_cannot_matter(paragraphs, size, rate):
    # the bound with every shorter n-gram distinct settles most paragraphs without counting them;
    # it must pick the same paragraphs as counting them all (fails if the bound is taken the wrong way)
    art = _Article(paragraphs, CleanOptions(shingle_size=size, threshold=rate, containment=rate))
    if len(paragraphs) > 1:
        assert art.may_repeat() == _may_repeat_counting_all(art)


def test_a_stacked_dateline_is_cut_like_a_single_one():
    # a wire story re-sent by a second agency, which put its own dateline before the first one
    story = "To LeBron James, triple-doubles are not a goal."
    assert body_for_matching(0, "LONDON (AP) - LOS ANGELES (AP) — " + story) == story
    assert body_for_matching(0, "LOS ANGELES (AP) — " + story) == story
    assert body_for_matching(1, "LOS ANGELES (AP) — " + story) == "LOS ANGELES (AP) — " + story  # first paragraph only


@pytest.mark.parametrize(
    "line, credit",
    [
        ("Reporting by Jane Doe; Editing by John Roe", True),
        ("Additional reporting by Tom Bergin in London", True),
        ("(c) 2005 The Associated Press.", True),
        ("© Copyright 2005 Reuters", True),
        ("Copyright 2019 The Guardian. All rights reserved.", True),
        ("This material may not be published. ALL RIGHTS RESERVED.", True),  # anywhere in the line
        ("The paper's reporting by Jane Doe was praised.", False),  # a credit opens the line
        ("Copyrighted works were at issue in the case.", False),
        ("Reporting by Jane Doe. " * 10, False),  # 200 characters or more: a paragraph, not a credit line
    ],
)
def test_credit_lines_are_left_out_of_matching(line, credit):
    assert (body_for_matching(3, line) is None) is credit


@given(st.lists(st.sampled_from(["all", "ALL", "All", " ", "  ", "rights", "RiGhTs", "reserved", "reſerved", "\u0130",
                                 "\u00e9", "x", ".", "K"]), max_size=12).map("".join))
def test_all_rights_reserved_is_the_regex(text):
    # the ASCII shortcut (lower-casing) and the regex (which also folds "ſ" into "s") agree
    assert _all_rights_reserved(text) == (_RIGHTS_RE.search(text) is not None)


def _split_at_suffix(text: str) -> str:
    """The site suffix cut as the regex's split finds it, over the whole text."""
    parts = _SITE_SUFFIX_RE.split(text, maxsplit=1)
    if len(parts) == 2 and len(tokens(parts[0])) >= 3 and 0 < len(tokens(parts[1])) <= 5:
        return parts[0]
    return text


_TITLE_PIECES = st.sampled_from([
    " ", "  ", "\t", "\u00a0", "|", "-", "–", "—", "·", " | ", " - ", " -- ", " — ", "||", "Intel", "unveils",
    "laser", "breakthrough", "BBC", "News", "x-ray", "5", "é",
])


@given(st.lists(_TITLE_PIECES, max_size=20).map("".join))
def test_the_site_suffix_is_cut_where_the_regex_would_split(text):
    # the split is tried from the text's last separator only; it must cut the same place
    stripped = _strip_site_suffix(text)
    assert stripped == _split_at_suffix(text)
    if stripped != text:  # what copies() relies on to skip paragraphs too long to match once stripped
        assert len(tokens(stripped)) < len(tokens(text)) <= len(tokens(stripped)) + 5


@given(st.text(alphabet=st.sampled_from("aZ ßǅⒶªİ1.ÉéSS"), max_size=12))
def test_caps_means_more_than_three_cased_characters_all_upper(text):
    cased = [c for c in text if c.lower() != c.upper()]
    assert _is_caps(text) == (len(cased) > 3 and all(c.isupper() for c in cased))


def test_an_article_without_its_text_keeps_every_other_field():
    # prepare builds it field by field (replace() is slower); a field added to Article must not be lost
    article = Article("a.jsonl#3", "a.jsonl", "Body.", "Title", "2019-11-19", "https://x.example/a", 3, "r-1")
    assert _without_text(article) == dataclasses.replace(article, text="")
    assert [f.name for f in dataclasses.fields(Article)] == [
        "id", "path", "text", "title", "date", "url", "line", "record_id"
    ]
