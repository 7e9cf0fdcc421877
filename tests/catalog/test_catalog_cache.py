"""The catalog's parse cache: a hit gives exactly what parsing gives, any change of the text
parses afresh (and replaces the old entry), and a cache that cannot be used is no error."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.catalog import read_data_file
from gpufleet.catalog.cache import cached_parse
from gpufleet.yamltree import parse_plain


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "gpufleet"


def counting(calls: list[str]):
    def parse(text: str):
        calls.append(text)
        return parse_plain(text, "t.yaml")

    return parse


def test_a_second_read_is_the_cached_parse_and_equals_parsing(cache: Path) -> None:
    calls: list[str] = []
    text = "a: [1, 2.5, true, ~, 'x']\nb: {c: 0o17}\n"
    first = cached_parse("t.yaml", text, counting(calls))
    second = cached_parse("t.yaml", text, counting(calls))
    assert len(calls) == 1
    assert second == first == {"a": [1, 2.5, True, None, "x"], "b": {"c": 15}}
    assert [type(item) for item in second["a"]] == [int, float, bool, type(None), str]
    assert [entry.name.split(".")[0] for entry in cache.iterdir()] == ["t"]


def test_an_edited_file_is_parsed_again_and_its_old_entry_goes(cache: Path) -> None:
    calls: list[str] = []
    cached_parse("t.yaml", "a: 1\n", counting(calls))
    assert cached_parse("t.yaml", "a: 2\n", counting(calls)) == {"a": 2}
    assert len(calls) == 2
    assert len(list(cache.glob("t.yaml.*.marshal"))) == 1


def test_a_damaged_entry_or_an_unwritable_folder_only_means_parsing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    cached_parse("t.yaml", "a: 1\n", counting(calls))
    [entry] = cache.glob("t.yaml.*.marshal")
    entry.write_bytes(b"\x00 not marshal")
    assert cached_parse("t.yaml", "a: 1\n", counting(calls)) == {"a": 1}
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert cached_parse("t.yaml", "a: 1\n", counting(calls)) == {"a": 1}
    assert len(calls) == 3


def test_catalog_files_read_through_the_cache_equal_a_fresh_parse(cache: Path) -> None:
    from importlib import resources

    for name in ("gpus.yaml", "aws_zones.yaml"):
        text = resources.files("gpufleet.catalog").joinpath("data", name).read_text(encoding="utf-8")
        fresh = parse_plain(text, name)
        assert read_data_file(name) == fresh  # parsed, then stored
        assert read_data_file(name) == fresh  # read back
    assert len(list(cache.glob("*.marshal"))) == 2
