"""Reading an nccl-tests ``all_reduce_perf`` log: its result rows, its summary lines, its ranks,
and the NCCL init lines that say which network carried the traffic.

Lines may carry an ``mpirun --tag-output`` prefix (``0: ``, ``[1,0]<stdout>:``) or a host
prefix; both are stripped before reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# size count type redop root time algbw busbw #wrong time algbw busbw #wrong (nccl-tests >= 2.10)
_ROW = re.compile(
    r"^\s*(?P<size>\d+)\s+(?P<count>\d+)\s+(?P<type>\w+)\s+(?P<redop>\w+)\s+(?P<root>-?\d+)"
    r"\s+(?P<time>[\d.]+)\s+(?P<algbw>[\d.]+)\s+(?P<busbw>[\d.]+)\s+(?P<wrong>\S+)"
    r"\s+(?P<time_in>[\d.]+)\s+(?P<algbw_in>[\d.]+)\s+(?P<busbw_in>[\d.]+)\s+(?P<wrong_in>\S+)\s*$"
)
_TAG = re.compile(r"^(?:\[\d+,\d+\]<std(?:out|err)>:|\d+:)\s?")
_OUT_OF_BOUNDS = re.compile(r"#\s*Out of bounds values\s*:\s*(\d+)\s+(\w+)")
_AVERAGE = re.compile(r"#\s*Avg bus bandwidth\s*:\s*([\d.]+)")
_RANK = re.compile(r"#\s+Rank\s+(\d+)\s+(?:Group\s+\d+\s+)?Pid\s+\d+\s+on\s+(\S+)\s+device")
_USING_NETWORK = re.compile(r"NCCL INFO Using network (.+?)\s*$")
_CHANNEL_VIA = re.compile(r"via NET/([^/]+)/")

Network = Literal["ofi", "ib", "socket", "unknown"]


@dataclass(frozen=True)
class ResultRow:
    size_bytes: int
    busbw_gbs: float
    """Out-of-place bus bandwidth, the column validators compare."""
    busbw_in_place_gbs: float
    wrong: int | None
    """``#wrong`` out of place: elements that disagree with the expected sum; None when not checked (N/A)."""


@dataclass(frozen=True)
class NcclLog:
    rows: tuple[ResultRow, ...]
    average_busbw_gbs: float | None
    out_of_bounds: int | None
    ranks: dict[int, str]
    """Rank -> host, from the ``# Using devices`` block."""
    networks: tuple[str, ...]
    """Every network NCCL said it used (``Using network X``, ``via NET/X/``), in order of first mention."""
    ofi_provider: str | None
    socket_interfaces: tuple[str, ...]
    ofi_failed: bool

    @property
    def finished(self) -> bool:
        """nccl-tests prints its summary lines only after the last size: without them it did not end."""
        return self.average_busbw_gbs is not None or (bool(self.rows) and self.out_of_bounds is not None)

    @property
    def largest(self) -> ResultRow | None:
        return max(self.rows, key=lambda row: row.size_bytes) if self.rows else None

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.ranks.values())))

    @property
    def wrong_results(self) -> int:
        return sum(row.wrong or 0 for row in self.rows) + (self.out_of_bounds or 0)

    @property
    def network(self) -> Network:
        """The transport the log shows; ``socket`` wins if any rank used it (one slow rank holds all)."""
        names = [name.lower() for name in self.networks]
        if "socket" in names or (self.socket_interfaces and not names):
            return "socket"
        if any("libfabric" in name or name == "ofi" for name in names):
            return "ofi"
        if any(name.startswith("ib") for name in names):
            return "ib"
        return "unknown"


def parse_nccl_log(text: str) -> NcclLog:
    rows: list[ResultRow] = []
    average = out_of_bounds = None
    ranks: dict[int, str] = {}
    networks: list[str] = []
    provider = None
    interfaces: list[str] = []
    ofi_failed = False
    for raw in text.splitlines():
        line = _TAG.sub("", raw, count=1)
        if (match := _ROW.match(line)) is not None:
            rows.append(
                ResultRow(
                    int(match["size"]),
                    float(match["busbw"]),
                    float(match["busbw_in"]),
                    int(match["wrong"]) if match["wrong"].isdigit() else None,
                )
            )
        elif (match := _AVERAGE.search(line)) is not None:
            average = float(match[1])
        elif (match := _OUT_OF_BOUNDS.search(line)) is not None:
            out_of_bounds = int(match[1])
        elif (match := _RANK.search(line)) is not None:
            ranks[int(match[1])] = match[2]
        else:
            _read_init(line, networks, interfaces)
            provider = _provider(line) or provider
            ofi_failed = ofi_failed or "aws-ofi-nccl initialization failed" in line or "No eligible providers" in line
    return NcclLog(tuple(rows), average, out_of_bounds, ranks, tuple(networks), provider, tuple(interfaces), ofi_failed)


def _read_init(line: str, networks: list[str], interfaces: list[str]) -> None:
    named = _USING_NETWORK.search(line) or _CHANNEL_VIA.search(line)
    if named is None and "Initialized NET plugin" in line:
        named = re.search(r"Initialized NET plugin (\S+)", line)
    if named is not None and named[1] not in networks:
        networks.append(named[1])
    if "NET/Socket : Using" in line:
        interfaces.extend(name for name in re.findall(r"\[\d+\]([^:\s]+):", line) if name not in interfaces)


def _provider(line: str) -> str | None:
    match = re.search(r"NET/OFI Selected [Pp]rovider is (\S+?)[,\s]", line + " ")
    return match[1] if match else None
