"""The `dedupe clean` command: outputs, report, formats, and bad input that loses nothing."""

from __future__ import annotations

import json
import os
import sys

import pytest

from dedupe.cli import main

from .conftest import FIXTURES

SEED = FIXTURES / "seed" / "kursk-article.txt"
CANONICAL = (FIXTURES / "seed" / "kursk-article.canonical.txt").read_text(encoding="utf-8")


def test_every_command_has_help(runner):
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0
        assert command.help and " ".join(command.help.split("\n")[0].split()[:6]) in " ".join(result.stdout.split())


def test_stdin_to_stdout(runner):
    result = runner.invoke(main, ["clean", "-"], input=SEED.read_bytes())
    assert result.exit_code == 0
    assert result.stdout == CANONICAL


def test_out_dir_writes_each_file_and_leaves_inputs_alone(runner, tmp_path):
    src = tmp_path / "scrape"
    src.mkdir()
    (src / "a.txt").write_bytes(SEED.read_bytes())
    (src / "b.txt").write_text(CANONICAL, encoding="utf-8")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["clean", str(src / "a.txt"), str(src / "b.txt"), "--out", str(out), "--report", str(tmp_path / "r.jsonl")]
    )
    assert result.exit_code == 0, result.stderr
    assert (out / "a.txt").read_text(encoding="utf-8") == CANONICAL
    assert (out / "b.txt").read_text(encoding="utf-8") == CANONICAL
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left behind
    docs = {json.loads(line)["doc"] for line in (tmp_path / "r.jsonl").read_text().splitlines()}
    assert docs == {str(src / "a.txt")}
    assert "2 cleaned, 0 skipped; removed 1 duplicate headlines and 3 duplicate paragraphs" in result.stderr


def test_relative_paths_keep_their_folders_under_out(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bbc" / "tech").mkdir(parents=True)
    (tmp_path / "bbc" / "tech" / "x.txt").write_bytes(SEED.read_bytes())
    result = runner.invoke(main, ["clean", "bbc/tech/x.txt", "--out", "out"])
    assert result.exit_code == 0
    assert (tmp_path / "out" / "bbc" / "tech" / "x.txt").read_text(encoding="utf-8") == CANONICAL


def test_two_inputs_with_one_output_name_keep_the_first(runner, tmp_path):
    # absolute paths keep only their names under --out: the second x.txt is named and skipped
    for site, text in (("a", SEED.read_text(encoding="utf-8")), ("b", "Other story\n\nA different first line.\n")):
        (tmp_path / site).mkdir()
        (tmp_path / site / "x.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, ["clean", str(tmp_path / "a" / "x.txt"), str(tmp_path / "b" / "x.txt"), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'b' / 'x.txt'}: its output x.txt is also the output of {tmp_path / 'a' / 'x.txt'}" in result.stderr
    assert (out / "x.txt").read_text(encoding="utf-8") == CANONICAL
    assert "1 cleaned, 1 skipped" in result.stderr


def test_json_format(runner):
    result = runner.invoke(main, ["clean", str(SEED), str(SEED), "--format", "json"])
    assert result.exit_code == 0
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objs) == 2
    assert objs[0]["text"] == CANONICAL
    assert objs[0]["headline"] == "Russia Asserts Total Control Over Kursk Amid Ukrainian Denials"
    assert len(objs[0]["paragraphs"]) == 6 and len(objs[0]["findings"]) == 4


def test_report_to_stderr(runner):
    result = runner.invoke(main, ["clean", str(SEED), "--report", "-"])
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [x["kind"] for x in lines].count("duplicate_paragraph") == 3
    assert set(lines[0]) >= {"kind", "doc", "index", "duplicate_of", "similarity", "text"}


def test_several_files_without_out_is_a_usage_error(runner):
    result = runner.invoke(main, ["clean", str(SEED), str(SEED)])
    assert result.exit_code == 2 and "--out" in result.stderr


def test_options_reach_the_cleaner(runner, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Headline here\n\nBody text.\n\nHeadline here\n", encoding="utf-8")
    assert runner.invoke(main, ["clean", str(f)]).stdout == "Headline here\n\nBody text.\n"
    kept = runner.invoke(main, ["clean", str(f), "--headline", "none"]).stdout
    assert kept == "Headline here\n\nBody text.\n\nHeadline here\n"
    bad = runner.invoke(main, ["clean", str(f), "--threshold", "2"])
    assert bad.exit_code == 2 and "threshold" in bad.stderr


def _bad_inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.txt").write_bytes(b"")
    (d / "blank.txt").write_bytes(b"  \n\t\n\n")
    (d / "invisible.txt").write_text("\u200b\ufeff\n\u200b\n", encoding="utf-8")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (d / "latin1.txt").write_bytes("Caf\u00e9 owners cheer\n\nPrices fell by \u00a35.\n".encode("latin-1"))
    (d / "huge.txt").write_bytes(b"word " * 1_000_000 + b"\n")
    (d / "folder.txt").mkdir()
    (d / "good.txt").write_bytes(SEED.read_bytes())
    return d


def test_bad_inputs_are_named_skipped_and_the_rest_processed(runner, tmp_path):
    d = _bad_inputs(tmp_path)
    names = ["empty.txt", "blank.txt", "invisible.txt", "binary.txt", "latin1.txt", "huge.txt", "folder.txt", "missing.txt", "good.txt"]
    out = tmp_path / "out"
    result = runner.invoke(main, ["clean", *[str(d / n) for n in names], "--out", str(out)])
    assert result.exit_code == 1
    messages = [m for m in result.stderr.splitlines() if ": error: " in m or ": warning: " in m]
    assert "Traceback" not in result.stderr
    expected = {
        "empty.txt": ("error", "empty file"),
        "blank.txt": ("error", "only white space"),
        "invisible.txt": ("error", "no paragraphs"),
        "binary.txt": ("error", "binary data"),
        "latin1.txt": ("warning", "not valid UTF-8 (byte 0xe9 at offset 3); read as windows-1252"),
        "huge.txt": ("warning", "a line of 5,000,000 characters"),
        "folder.txt": ("error", "a directory with no .txt or .md files"),
        "missing.txt": ("error", "no such file"),
    }
    for name, (level, words) in expected.items():
        (line,) = [m for m in messages if f"{d / name}:" in m]
        assert f"dedupe: {level}: " in line and words in line
    assert (out / "good.txt").read_text(encoding="utf-8") == CANONICAL
    assert (out / "latin1.txt").read_text(encoding="utf-8") == "Caf\u00e9 owners cheer\n\nPrices fell by \u00a35.\n"
    assert (out / "huge.txt").stat().st_size == len("word " * 1_000_000)
    assert sorted(p.name for p in out.iterdir()) == ["good.txt", "huge.txt", "latin1.txt"]
    assert "3 cleaned, 6 skipped" in result.stderr


def test_warnings_alone_exit_zero(runner, tmp_path):
    d = _bad_inputs(tmp_path)
    result = runner.invoke(main, ["clean", str(d / "latin1.txt")])
    assert result.exit_code == 0 and "read as windows-1252" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(runner, tmp_path):
    f = tmp_path / "locked.txt"
    f.write_bytes(SEED.read_bytes())
    f.chmod(0)
    result = runner.invoke(main, ["clean", str(f)])
    assert result.exit_code == 1 and "permission denied" in result.stderr


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_read_error_is_one_line_and_the_run_goes_on(runner, tmp_path):
    # /proc/self/mem exists but cannot be read from offset 0, even by root: a real EIO.
    out = tmp_path / "out"
    result = runner.invoke(main, ["clean", "/proc/self/mem", str(SEED), "--out", str(out)])
    assert result.exit_code == 1
    (line,) = [m for m in result.stderr.splitlines() if "/proc/self/mem" in m]
    assert line.startswith("dedupe: error: /proc/self/mem: ") and "error" in line.lower()
    assert (out / SEED.name).read_text(encoding="utf-8") == CANONICAL


def test_a_directory_stands_for_its_articles(runner, tmp_path):
    src = tmp_path / "scrape"
    (src / "site-a" / "2025").mkdir(parents=True)
    (src / "site-a" / "2025" / "kursk.txt").write_bytes(SEED.read_bytes())
    (src / "site-b").mkdir()
    (src / "site-b" / "copy.md").write_text(CANONICAL, encoding="utf-8")
    (src / "site-b" / "page.html").write_text("<p>not an article file</p>", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, ["clean", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["site-a/2025/kursk.txt", "site-b/copy.md"]
    assert (out / "site-a" / "2025" / "kursk.txt").read_text(encoding="utf-8") == CANONICAL


def test_engine_options_are_checked_and_a_missing_dask_is_one_line(runner, tmp_path, monkeypatch):
    from dedupe import ConfigError, RunOptions

    with pytest.raises(ConfigError, match="needs engine 'dask'"):
        RunOptions(scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="engine must be one of"):
        RunOptions(engine="spark")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if news-dedupe[dask] were not installed
    scrape = tmp_path / "scrape"
    scrape.mkdir()
    (scrape / "a.txt").write_text("Storm hits coast\n\nHigh winds cut power to homes across the region.\n", "utf-8")
    result = runner.invoke(main, ["run", str(scrape), "--out", str(tmp_path / "out"), "--engine", "dask"])
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [
        "dedupe: error: engine 'dask' needs Dask: pip install 'news-dedupe[dask]'"
    ]
    assert not (tmp_path / "out").exists()
