"""Properties of load + resolve over generated stacks (hypothesis).

* Valid random stacks (pools over catalog types, fabrics that fit, capacity that fits,
  storage that fits, MIG plans on MIG GPUs) load and resolve.
* Targeted mutations of a valid stack (a required key dropped, a reference renamed, a
  wrong type, an unknown instance type, an out-of-range number) are refused with
  ``StackInvalid`` and at least one problem located inside the file.
* Arbitrary value replacements anywhere in a stack either resolve or raise
  ``StackInvalid`` with every problem inside the file: never any other exception.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gpufleet.catalog import load_catalog
from gpufleet.catalog.eks import ZoneOffering
from gpufleet.mig import check_layout
from gpufleet.model import resolve
from gpufleet.stack import StackInvalid, load_stack

CATALOG = load_catalog()
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

REGIONS = {"us-east-1": "abcdef", "us-west-2": "abcd", "eu-west-1": "abc", "ap-northeast-1": "acd"}
INSTANCES = sorted(CATALOG.instance_types)
MIG_GPUS = sorted(CATALOG.mig)
EMPTY = ZoneOffering(names=(), ids=())
# CoreDNS needs an untainted node (GF-AWS-003); the name is longer than any drawn one.
ADDON_POOL = {"workload": "system", "instance_type": "m7i.xlarge", "nodes": {"min": 1, "max": 2}}

names = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}[a-z0-9]\Z")


def dump(data: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def write(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, list[str]]:
    text = dump(data)
    path = tmp_path / "stack.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def inside(problem, lines: list[str]) -> bool:
    if not 1 <= problem.line <= max(len(lines), 1):
        return False
    width = len(lines[problem.line - 1]) if lines else 0
    return 1 <= problem.column <= width + 1


# -- valid stacks -----------------------------------------------------------------------------


@st.composite
def mig_layouts(draw, gpu: str) -> dict[str, int]:
    geometry = CATALOG.mig[gpu]
    profile = draw(st.sampled_from(sorted(p for p in geometry.profiles if "+" not in p and "-" not in p)))
    count = draw(st.integers(1, geometry.profiles[profile].max_count))
    layout = {profile: count}
    return layout if check_layout(CATALOG, gpu, layout).feasible else {profile: 1}


@st.composite
def pools(draw, name: str, storage: dict[str, dict], mig_plans: dict[str, dict], zones: list[str], region: str) -> dict[str, Any]:
    # Only types some zone of the network offers: others are refused on purpose (GF-AWS-005).
    # Neuron types are refused too (GF-K8S-010): gpufleet renders nothing that serves them.
    offered = [
        t
        for t in INSTANCES
        if set(CATALOG.zone_offerings.regions[region].get(t, EMPTY).names) & {z[-1] for z in zones}
        and getattr(CATALOG.accelerator_of(CATALOG.instance_types[t]), "kind", "gpu") == "gpu"
    ]
    instance = CATALOG.instance_types[draw(st.sampled_from(offered))]
    accelerator = CATALOG.accelerator_of(instance)
    workload = "system" if accelerator is None else draw(st.sampled_from(["training", "inference", "lab"]))
    pool: dict[str, Any] = {"workload": workload, "instance_type": instance.name}

    fabric = None
    if instance.efa_supported and draw(st.booleans()):
        fabric = "efa"
    elif draw(st.booleans()):
        fabric = "lan"
    if fabric:
        pool["fabric"] = fabric

    reserved = instance.capacity_block and draw(st.booleans())
    if reserved:
        count = draw(st.integers(1, 8))
        pool["nodes"] = {"min": count, "max": count}
        pool["capacity"] = {
            "type": "capacity-block",
            "reservation_id": "cr-" + draw(st.from_regex(r"\A[0-9a-f]{17}\Z")),
            "availability_zone": draw(st.sampled_from(zones)),
        }
    else:
        low = draw(st.integers(0, 4))
        high = draw(st.integers(max(low, 1), 8))
        pool["nodes"] = {"min": low, "max": high}
        if draw(st.booleans()):
            pool["nodes"]["desired"] = draw(st.integers(low, high))
        pool["capacity"] = {"type": draw(st.sampled_from(["on-demand", "spot"]))}

    if workload == "training" and pool["nodes"]["max"] > 1 and fabric != "efa":
        pool["allow_non_rdma"] = True

    tiers = [t for t, spec in storage.items() if spec["kind"] != "local-nvme" or instance.local_nvme is not None]
    pool["storage"] = draw(st.lists(st.sampled_from(tiers), unique=True, max_size=3)) if tiers else []

    fitting = [m for m, plan in mig_plans.items() if accelerator is not None and plan["gpu"] == accelerator.name]
    if fitting and draw(st.booleans()):
        pool["mig"] = draw(st.sampled_from(fitting))
    if draw(st.booleans()):
        pool["labels"] = {"team": draw(names)}
    return pool


@st.composite
def valid_stacks(draw) -> dict[str, Any]:
    region = draw(st.sampled_from(sorted(REGIONS)))
    # EKS needs two zones for the control plane (GF-AWS-001).
    letters = draw(st.lists(st.sampled_from(REGIONS[region]), min_size=2, max_size=3, unique=True))
    data: dict[str, Any] = {
        "cluster": {
            "name": draw(names),
            "provider": "aws",
            "region": region,
            "kubernetes_version": draw(st.sampled_from(sorted(CATALOG.eks.kubernetes_versions))),
            "endpoint": {"deploy_from": "in-vpc"},
        },
        "network": {"vpc_cidr": f"10.{draw(st.integers(0, 255))}.0.0/16", "availability_zones": [region + z for z in letters]},
        "fabrics": {"efa": {"kind": "efa"}, "lan": {"kind": "ethernet"}},
    }
    storage: dict[str, dict] = {"data": {"kind": "s3"}}
    if draw(st.booleans()):
        storage["cache"] = {"kind": "local-nvme"}
    if draw(st.booleans()):
        deployment = draw(st.sampled_from(sorted(CATALOG.storage.fsx_lustre.deployments)))
        facts = CATALOG.storage.fsx_lustre.deployments[deployment]
        storage["scratch"] = {
            "kind": "fsx-lustre",
            "deployment": deployment,
            "capacity_tib": draw(st.sampled_from([1.2, 2.4, 4.8, 9.6, 48])),
            "throughput_per_tib": draw(st.sampled_from(facts.per_unit_throughputs)),
            "import_from": "data",
        }
    data["storage"] = storage

    mig_plans: dict[str, dict] = {}
    for index, gpu in enumerate(draw(st.lists(st.sampled_from(MIG_GPUS), max_size=2, unique=True))):
        mig_plans[f"mig-{index}"] = {"gpu": gpu, "layout": draw(mig_layouts(gpu))}
    data["mig_plans"] = mig_plans

    pool_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    node_pools = {
        name: draw(pools(name, storage, mig_plans, data["network"]["availability_zones"], region)) for name in pool_names
    }
    # Training pools get subnets sized to them; the largest a generated pool needs is a /19
    # ((8 + 2 surge) x 750 addresses), and the VPC's pool space holds three of those.
    training = [name for name in sorted(node_pools) if node_pools[name]["workload"] == "training"]
    node_pools = {name: pool for name, pool in node_pools.items() if name not in training[3:]}
    data["node_pools"] = {**node_pools, "system-addons": ADDON_POOL}
    return data


@SETTINGS
@given(data=valid_stacks())
def test_valid_random_stacks_load_and_resolve(tmp_path_factory, data) -> None:
    path, _ = write(tmp_path_factory.mktemp("valid"), data)
    plan = resolve(load_stack(path), load_catalog())
    assert {p.name for p in plan.pools} == set(data["node_pools"])
    for pool in plan.pools:
        spec = data["node_pools"][pool.name]
        assert pool.source.instance.name == spec["instance_type"]
        if spec.get("fabric") == "efa":
            assert pool.source.efa is not None and pool.source.efa.efa_count == pool.source.instance.max_efa_interfaces
            assert len(pool.source.zones) == 1
        assert set(pool.source.zones) <= set(data["network"]["availability_zones"])


# -- targeted mutations: always refused ---------------------------------------------------------


def _pool(data: dict[str, Any], pick: int) -> dict[str, Any]:
    names_ = sorted(data["node_pools"])
    return data["node_pools"][names_[pick % len(names_)]]


def drop_required(data, pick):
    choices = [
        ("cluster", "name"),
        ("cluster", "kubernetes_version"),
        ("cluster", "provider"),
        ("network", "vpc_cidr"),
        ("pool", "instance_type"),
        ("pool", "workload"),
        ("pool", "nodes"),
        ("nodes", "max"),
        ("nodes", "min"),
        ("root", "cluster"),
        ("root", "node_pools"),
    ]
    where, key = choices[pick % len(choices)]
    target = {
        "cluster": data["cluster"],
        "network": data["network"],
        "root": data,
        "pool": _pool(data, pick),
        "nodes": _pool(data, pick)["nodes"],
    }[where]
    del target[key]


def rename_reference(data, pick):
    pool = _pool(data, pick)
    kind = pick % 3
    if kind == 0:
        pool["fabric"] = "no-such-fabric"
    elif kind == 1:
        pool["storage"] = [*pool.get("storage", []), "no-such-tier"]
    else:
        pool["mig"] = "no-such-plan"


def wrong_type(data, pick):
    pool = _pool(data, pick)
    options = [
        lambda: pool.update(workload=7),
        lambda: pool.update(nodes=[1, 2]),
        lambda: pool["nodes"].update(max="many"),
        lambda: pool["nodes"].update(min=True),
        lambda: pool.update(instance_type=["p5.48xlarge"]),
        lambda: pool.update(labels=["team"]),
        lambda: pool.update(storage="data"),
        lambda: data["cluster"].update(kubernetes_version=1.33),
        lambda: data["network"].update(availability_zones="us-east-1a"),
        lambda: data.update(fabrics=[{"kind": "efa"}]),
    ]
    options[pick % len(options)]()


def unknown_instance_type(data, pick):
    _pool(data, pick)["instance_type"] = ["p9.48xlarge", "p5.48xl", "g6.huge", "P5.48XLARGE"][pick % 4]


def out_of_range(data, pick):
    pool = _pool(data, pick)
    options = [
        lambda: pool["nodes"].update(min=-1),
        lambda: pool["nodes"].update(max=0),
        lambda: pool["nodes"].update(min=pool["nodes"]["max"] + 1),
        lambda: pool["nodes"].update(desired=pool["nodes"]["max"] + 3),
        lambda: data["storage"].update(bad={"kind": "fsx-lustre", "capacity_tib": 1.2, "throughput_per_tib": 7}),
        lambda: data["storage"].update(bad={"kind": "fsx-lustre", "capacity_tib": -1, "throughput_per_tib": 125}),
        lambda: data["network"].update(vpc_cidr="10.0.0.0/8"),
        lambda: data["network"]["availability_zones"].append("mars-north-1a"),
    ]
    options[pick % len(options)]()


MUTATIONS = [drop_required, rename_reference, wrong_type, unknown_instance_type, out_of_range]


@SETTINGS
@given(data=valid_stacks(), mutation=st.sampled_from(MUTATIONS), pick=st.integers(0, 1000))
def test_mutations_are_refused_with_located_problems(tmp_path_factory, data, mutation, pick) -> None:
    broken = copy.deepcopy(data)
    mutation(broken, pick)
    path, lines = write(tmp_path_factory.mktemp("mutated"), broken)
    try:
        resolve(load_stack(path), load_catalog())
    except StackInvalid as exc:
        problems = exc.findings
    else:
        raise AssertionError(f"{mutation.__name__} was accepted:\n" + "\n".join(lines))
    assert problems
    assert any(inside(p, lines) for p in problems), [str(p) for p in problems]
    for problem in problems:
        assert problem.message and str(problem).startswith(f"{problem.file}:{problem.line}:{problem.column}: ")


# -- arbitrary replacements: never a crash --------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(-10, 1e6, allow_nan=False),
    st.text(alphabet="abcxyz-_.0123/ ", max_size=12),
    st.sampled_from(["efa", "data", "p5.48xlarge", "us-east-1a", "training", "capacity-block", "1.33", "cr-0123456789abcdef0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["kind", "min", "max", "name", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, (*prefix, index))
    return found


@SETTINGS
@given(data=valid_stacks(), pick=st.integers(0, 10_000), value=values)
def test_arbitrary_replacements_never_crash(tmp_path_factory, data, pick, value) -> None:
    broken = copy.deepcopy(data)
    paths = paths_of(broken)
    path_to = paths[pick % len(paths)]
    parent = broken
    for part in path_to[:-1]:
        parent = parent[part]
    parent[path_to[-1]] = value
    path, lines = write(tmp_path_factory.mktemp("fuzz"), broken)
    try:
        resolve(load_stack(path), load_catalog())
    except StackInvalid as exc:
        assert exc.findings
        for problem in exc.findings:
            assert inside(problem, lines), (str(problem), "\n".join(lines))
