"""The parsers on outputs published upstream (tests/verify/data/SOURCES.md names each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.verify.dcgm import DcgmUnreadable, parse_dcgm
from gpufleet.verify.nccl import parse_nccl_log

DATA = Path(__file__).parent / "data"


def nccl(name: str):
    return parse_nccl_log((DATA / name).read_text(encoding="utf-8"))


def dcgm(name: str):
    return parse_dcgm((DATA / name).read_text(encoding="utf-8"))


def test_result_rows_read_through_mpirun_tag_prefixes() -> None:
    """``--tag-output`` prefixes each line with ``0: ``; the largest size's out-of-place busbw is the
    figure validators compare (AICR takes the last row)."""
    log = nccl("nccl_p5_2nodes_default_algo.log")
    assert len(log.rows) == 5
    assert (log.largest.size_bytes, log.largest.busbw_gbs, log.largest.busbw_in_place_gbs) == (17179869184, 487.09, 487.26)
    assert not log.finished  # the README excerpt stops before the summary lines


def test_two_node_default_algorithm_beats_the_links() -> None:
    """The reason floors name NCCL_ALGO=Ring: 2 x p5 under NCCL's default report more busbw than
    the 3200 Gb/s (400 GB/s) of EFA could carry."""
    assert nccl("nccl_p5_2nodes_default_algo.log").largest.busbw_gbs > 3200 / 8


def test_summary_lines() -> None:
    log = nccl("nccl_tail_issue119.log")
    assert (log.average_busbw_gbs, log.out_of_bounds, log.finished, log.wrong_results) == (84.8558, 0, True, 0)
    assert log.largest.busbw_gbs == 95.74


def test_unchecked_in_place_column_and_zero_average() -> None:
    log = nccl("nccl_zero_busbw_issue287.log")
    assert (log.rows[0].wrong, log.average_busbw_gbs, log.finished) == (0, 0.0, True)


def test_efa_init_lines_prove_the_ofi_path() -> None:
    log = nccl("nccl_init_efa_hang_issue526.log")
    assert (log.network, log.ofi_provider, log.rows) == ("ofi", "efa", ())
    assert not log.finished


def test_a_run_that_stops_after_connecting_has_no_result() -> None:
    log = nccl("nccl_hang_after_connect_issue1597.log")
    assert (log.network, log.finished, log.largest) == ("ofi", False, None)


@pytest.mark.parametrize(
    ("sample", "interfaces", "ofi_failed"),
    [
        ("nccl_socket_fallback_pod_id_link0.log", ("enp73s0", "pod-id-link0"), True),
        ("nccl_socket_fallback_issue857.log", ("eth0",), False),
        ("nccl_ranks_one_node_issue1320.log", ("eno1", "br-30d1aa8d4e26"), False),
    ],
)
def test_tcp_fallback_is_recognised(sample: str, interfaces: tuple[str, ...], ofi_failed: bool) -> None:
    log = nccl(sample)
    assert (log.network, log.socket_interfaces, log.ofi_failed) == ("socket", interfaces, ofi_failed)


def test_ranks_and_hosts() -> None:
    assert nccl("nccl_ranks_one_node_issue1320.log").ranks == {0: "llm207", 1: "llm207"}
    two = nccl("nccl_ranks_two_nodes_issue65.log")
    assert two.hosts == ("ip-172-31-13-103", "ip-172-31-6-104")
    assert two.ranks[8] == "ip-172-31-6-104"


def test_dcgm_table_pass() -> None:
    report = dcgm("dcgm_r2_pass_issue198.txt")
    assert (report.version, report.passed) == ("3.3.7", True)
    assert [(t.category, t.name, t.status) for t in report.tests] == [
        ("Deployment", "Denylist", "pass"),
        ("Deployment", "NVML Library", "pass"),
    ]


def test_dcgm_table_fail_on_one_gpu_ignores_wrapped_messages() -> None:
    report = dcgm("dcgm_r2_fail_go_dcgm52.txt")
    assert [(t.category, t.name, t.status) for t in report.tests] == [("Hardware", "GPU Memory", "fail")]
    assert not report.passed


def test_dcgm_4_table() -> None:
    report = dcgm("dcgm_v4_text_issue253.txt")
    assert (report.version, [t.name for t in report.tests], report.passed) == ("4.2.3", ["software", "memory"], True)


def test_dcgm_json_all_skipped_proves_nothing() -> None:
    report = dcgm("dcgm_r3_skip_issue139.json")
    assert {t.status for t in report.tests} == {"skip"}
    assert not report.passed


def test_dcgm_4_json_failure() -> None:
    report = dcgm("dcgm_v4_shape_fail.json")
    assert [(t.name, t.status) for t in report.failed] == [("memory", "fail")]


@pytest.mark.parametrize("text", ["", "Error: unable to connect to host engine", "{not json"])
def test_dcgm_output_that_is_not_a_report(text: str) -> None:
    with pytest.raises(DcgmUnreadable):
        parse_dcgm(text)
