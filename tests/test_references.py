"""The upstream reference files: one manifest, one fetch script, one setting, one-line failures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.fetch_references import (
    DEFAULT_FOLDER,
    FETCH_COMMAND,
    REPO,
    Reference,
    fetch,
    from_folder,
    from_url,
    main,
    reference_folder,
)
from tests.reference import manifest, reference_path


def test_manifest_names_each_files_origin_and_hash():
    references = manifest()
    assert len(references) == 50
    assert {name.split("/")[0] for name in references} == {"k8s", "nvidia-mig-configs"}
    for name, reference in references.items():
        assert reference.name == name
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", reference.repository), name
        assert re.fullmatch(r"[0-9a-f]{40}", reference.commit), name
        assert re.fullmatch(r"[0-9a-f]{64}", reference.sha256), name
        assert not reference.path.startswith("/"), name
    kueue = references["k8s/kueue__config__components__crd__bases__kueue.x-k8s.io_clusterqueues.yaml"]
    assert (kueue.tag, kueue.url()) == (
        "v0.19.2",
        "https://raw.githubusercontent.com/kubernetes-sigs/kueue/8eab68778fc1b52affe165fdf5af29d1e9b4f3cb/"
        "config/components/crd/bases/kueue.x-k8s.io_clusterqueues.yaml",
    )


def test_every_manifest_file_is_in_the_reference_folder_as_published():
    for name in manifest():
        assert reference_path(name).is_file()


def _copy_of_the_reference(folder: Path) -> Path:
    """Every manifest file, verified, copied into ``folder`` (the tests below alter their copy)."""
    for name in manifest():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference_path(name), folder / name)
    return folder


def test_a_folder_that_does_not_exist_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUFLEET_REFERENCE", str(tmp_path / "absent"))
    with pytest.raises(pytest.fail.Exception) as failed:
        reference_path("nvidia-mig-configs/mig-parted__examples__config.yaml")
    assert failed.value.pytrace is False
    assert str(failed.value).startswith(f"the reference folder {tmp_path / 'absent'} does not exist: run {FETCH_COMMAND}")


def test_the_setting_defaults_beside_the_repository_and_reads_relative_paths_from_its_root():
    assert reference_folder({}) == DEFAULT_FOLDER == REPO.parent / "shared" / "reference"
    assert reference_folder({"GPUFLEET_REFERENCE": "refs"}) == REPO / "refs"
    assert reference_folder({"GPUFLEET_REFERENCE": "/tmp/refs"}) == Path("/tmp/refs")


def _mirror(tmp_path: Path, references: list[Reference]) -> Path:
    """A folder laid out as raw.githubusercontent.com is: <repository>/<commit>/<path>."""
    mirror = tmp_path / "mirror"
    for reference in references:
        target = mirror / reference.repository / reference.commit / reference.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference_path(reference.name), target)
    return mirror


def test_fetch_downloads_by_repository_commit_and_path_and_writes_only_what_matches(tmp_path):
    good, altered, absent = (
        manifest()[name]
        for name in (
            "k8s/gpu-operator__deployments__gpu-operator__Chart.yaml",
            "nvidia-mig-configs/mig-parted__examples__config.yaml",
            "k8s/kueue__charts__kueue__Chart.yaml",
        )
    )
    mirror = _mirror(tmp_path, [good, altered])
    with (mirror / altered.repository / altered.commit / altered.path).open("a", encoding="utf-8") as handle:
        handle.write("# edited\n")
    dest = tmp_path / "dest"
    problems = fetch([good, altered, absent], dest, from_url(mirror.as_uri()))
    assert (dest / good.name).read_bytes() == reference_path(good.name).read_bytes()
    assert not (dest / altered.name).exists() and not (dest / absent.name).exists()
    assert len(problems) == 2
    assert problems[0].startswith(f"{altered.name}: got sha256 ") and problems[0].endswith("; not written")
    assert problems[1].startswith(f"{absent.name}: cannot get it: ")
    assert list(dest.rglob("*.partial")) == []


def test_a_verified_folder_is_kept_without_asking_the_network(tmp_path):
    dest = tmp_path / "dest"
    assert main(["--dest", str(dest), "--from", str(_copy_of_the_reference(tmp_path / "source"))]) == 0
    assert sorted(str(path.relative_to(dest)) for path in dest.rglob("*") if path.is_file()) == sorted(manifest())
    # Every file is there with its hash, so an unreachable source is never asked.
    assert main(["--dest", str(dest), "--base-url", (tmp_path / "nowhere").as_uri()]) == 0
    (dest / "nvidia-mig-configs" / "mig-parted__examples__config.yaml").write_text("version: v1\n", encoding="utf-8")
    assert main(["--dest", str(dest), "--base-url", (tmp_path / "nowhere").as_uri()]) == 1
    assert fetch(list(manifest().values()), dest, from_folder(tmp_path / "source")) == []


def _pytest_with_reference(folder: Path) -> subprocess.CompletedProcess[str]:
    tests = [
        "tests/mig/test_mig_nvidia_configs.py::test_the_one_failing_entry_says_which_limit",
        "tests/kubernetes/test_rendered_objects.py::test_catalog_pins_the_reference_chart_versions[network-operator]",
    ]
    environment = {**os.environ, "GPUFLEET_REFERENCE": str(folder)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--no-header", *tests],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("state", ["empty", "altered"])
def test_a_missing_or_altered_reference_fails_its_tests_in_one_line_naming_the_fetch(tmp_path, state):
    folder = tmp_path / "reference"
    if state == "altered":
        _copy_of_the_reference(folder)
        altered = folder / "k8s" / "network-operator__deployment__network-operator__Chart.yaml"
        altered.write_bytes(altered.read_bytes().replace(b"26.4.1", b"26.4.2"))
    else:
        folder.mkdir()
    completed = _pytest_with_reference(folder)
    output = completed.stdout
    assert completed.returncode == 1, output
    assert (
        "Traceback" not in output and "skipped" not in output and re.search(r"^(1 failed, 1 passed|2 failed) in ", output, re.M)
    )
    reasons = [line for line in output.splitlines() if FETCH_COMMAND in line and not line.startswith("FAILED")]
    then = f": run {FETCH_COMMAND} (the folder is $GPUFLEET_REFERENCE, by default shared/reference beside the checkout)"
    if state == "empty":
        assert reasons == [
            f"nvidia-mig-configs/gpu-operator__assets__state-mig-manager__0400_configmap@2e41c6e2d.yaml is missing from {folder}{then}",
            f"k8s/network-operator__deployment__network-operator__Chart.yaml is missing from {folder}{then}",
        ]
    else:
        assert reasons == [
            f"k8s/network-operator__deployment__network-operator__Chart.yaml in {folder} is not the file "
            f"Mellanox/network-operator@85afd6d9c697 published (sha256 differs){then}"
        ]
        assert "1 failed, 1 passed" in output
    # Each failure is reported as its message alone: the section header, then that one line.
    sections = re.findall(r"^_{3,} (\S+) _{3,}\n(.*?)(?=^_{3,}|^=+ short test summary)", output, re.M | re.S)
    assert sections and all(body.strip().count("\n") == 0 for _, body in sections), output
