"""Facts cited from moto's EC2 snapshot hold for the moto the lock pins, not whatever PyPI has.

The chain: the catalog cites ``PyPI moto==X``; ``requirements/dev.txt`` locks moto; CI and the
README install from the lock; ``test_aws_vs_moto.py`` and the zone check below read the installed
copy. An upstream release therefore changes nothing until someone moves the lock, and then these
tests say what to re-derive.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import pytest

from gpufleet.catalog import load_catalog
from scripts import moto_catalog
from tests.lock import locked_version

REGENERATE = "run `.venv/bin/python scripts/moto_catalog.py --write`, then `.venv/bin/pytest tests/catalog`"


def test_catalog_cites_the_locked_moto() -> None:
    """A lock bump that the data has not followed fails here, saying how to re-derive it."""
    cited = moto_catalog.cited_versions()
    locked = locked_version("moto")
    assert cited == {locked}, (
        f"requirements/dev.txt locks moto {locked} but the catalog cites moto {', '.join(sorted(cited))}: {REGENERATE}"
    )


def test_installed_moto_is_the_locked_one() -> None:
    installed, locked = metadata.version("moto"), locked_version("moto")
    assert installed == locked, (
        f"moto {installed} is installed but the lock pins {locked}: "
        "install from the lock (`.venv/bin/pip install --require-hashes -r requirements/dev.txt`)"
    )


def test_every_moto_citation_of_the_catalog_is_counted() -> None:
    """The script's citation pattern sees every moto source the loaded catalog carries."""
    catalog = load_catalog()
    texts = [text for text in catalog.sources.values() if text.startswith("PyPI moto==")]
    texts += [text for text in catalog.zone_offerings.sources.values() if text.startswith("PyPI moto==")]
    assert texts
    assert {text.split(",")[0].removeprefix("PyPI moto==") for text in texts} == moto_catalog.cited_versions()


def test_zone_offerings_are_the_snapshot_s() -> None:
    """Every region and type in aws_zones.yaml is what moto's DescribeInstanceTypeOfferings copy says."""
    derived = moto_catalog.derive_offerings(moto_catalog.catalog_instance_types())
    recorded = moto_catalog.recorded_offerings()
    stale = sorted(region for region in set(derived) | set(recorded) if derived.get(region) != recorded.get(region))
    assert not stale, f"aws_zones.yaml differs from moto {metadata.version('moto')} in {', '.join(stale)}: {REGENERATE}"


def test_zone_offerings_text_reads_back_as_recorded() -> None:
    """The writer's text is the file's own block, byte for byte, so --write on an unchanged
    snapshot is a no-op."""
    text = (moto_catalog.DATA / "aws_zones.yaml").read_text(encoding="utf-8")
    assert text.endswith(moto_catalog.offerings_text(moto_catalog.recorded_offerings()))


def test_a_moved_snapshot_is_reported_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered region (what a new moto release looks like to the check) fails with the
    command to run; --write restores it and moves the citations to the installed release."""
    original, data = moto_catalog.DATA, tmp_path / "data"
    shutil.copytree(original, data)
    zones = data / "aws_zones.yaml"
    moved = zones.read_text(encoding="utf-8").replace(
        "p5e.48xlarge: {names: [c], ids: [usw2-az3]}", "p5e.48xlarge: {names: [a], ids: [usw2-az2]}"
    )
    zones.write_text(moved, encoding="utf-8")
    for name in moto_catalog.CITING_FILES:
        path = data / name
        path.write_text(
            path.read_text(encoding="utf-8").replace(f"moto=={locked_version('moto')},", "moto==0.0.1,"), encoding="utf-8"
        )
    monkeypatch.setattr(moto_catalog, "DATA", data)

    assert moto_catalog.main([]) == 1
    message = capsys.readouterr().out
    assert "us-west-2" in message and "cited 0.0.1" in message and "--write" in message

    assert moto_catalog.main(["--write"]) == 0
    assert moto_catalog.cited_versions() == {metadata.version("moto")}
    assert moto_catalog.main([]) == 0
    for name in moto_catalog.CITING_FILES:  # the installed moto is the locked one (test above)
        assert (data / name).read_bytes() == (original / name).read_bytes(), name
