"""Loading a stack file: every shape error has its own message and its exact line:column.

Line numbers in the comments count from 1; ``stacks.aws(body)`` puts the 8-line AWS head
(see conftest) in front of ``body``, so a body starts at line 9.
"""

from __future__ import annotations

import pytest

from gpufleet.stack import StackFileError, StackInvalid, load_stack

NAME_RULE = "use lowercase letters, digits and '-', starting with a letter (at most 40)"


# -- YAML itself --------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo: x
        """
    )
    # Line 2 is "  name: demo: x": the second ':' (column 13) cannot start a value.
    [(line, column, field, message)] = stacks.load_problems(path)
    assert (line, column, field) == (2, 13, "")
    assert message.startswith("YAML syntax error: ")
    assert "mapping values are not allowed here" in message
    assert stacks.rules == ["GF-YAML-001"]


def test_yaml_tab_indentation(stacks) -> None:
    path = stacks.write("cluster:\n\tname: demo\n")
    [(line, column, field, message)] = stacks.load_problems(path)
    assert (line, column, field) == (2, 1, "")
    assert message.startswith("YAML syntax error: ")
    assert "'\\t'" in message
    assert stacks.rules == ["GF-YAML-001"]


def test_yaml_unclosed_flow_sequence_names_where_it_began(stacks) -> None:
    path = stacks.aws(
        """
        node_pools: [system
        """
    )
    # Line 9 "node_pools: [system": '[' at column 13; the stream ends on line 10.
    [(line, column, field, message)] = stacks.load_problems(path)
    assert (line, column, field) == (10, 1, "")
    assert message.startswith("YAML syntax error: while parsing a flow sequence, expected ',' or ']'")
    assert message.endswith("(it began at line 9, column 13)")
    assert stacks.rules == ["GF-YAML-001"]


def test_duplicate_pool_name_is_located_not_a_traceback(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          train:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
          train:
            workload: system
            instance_type: m7i.2xlarge
            nodes: {min: 1, max: 2}
        """
    )
    # Line 10 is the first "  train:", line 14 the second.
    assert stacks.load_problems(path) == [
        (14, 3, "", "duplicate key 'train': a key may appear only once in a mapping (names must be unique)")
    ]
    assert stacks.rules == ["GF-YAML-002"]


def test_duplicate_field_in_a_pool(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            workload: inference
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [
        (12, 5, "", "duplicate key 'workload': a key may appear only once in a mapping (names must be unique)")
    ]
    assert stacks.rules == ["GF-YAML-002"]


def test_duplicate_top_level_section(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          efa: {kind: efa}
        fabrics:
          eth: {kind: ethernet}
        node_pools:
        """,
        stacks.system_pool,
    )
    assert stacks.load_problems(path) == [
        (11, 1, "", "duplicate key 'fabrics': a key may appear only once in a mapping (names must be unique)")
    ]
    assert stacks.rules == ["GF-YAML-002"]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just a string\n", "42\n"])
def test_root_must_be_a_mapping(stacks, text: str) -> None:
    assert stacks.load_problems(stacks.write(text)) == [(1, 1, "", "a stack file must be a YAML mapping")]
    assert stacks.rules == ["GF-STACK-001"]


# -- fields -------------------------------------------------------------------------------


def test_unknown_field_with_did_you_mean_is_located_at_the_key(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            instance_typ: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    # instance_type is optional (existing nodes give node_selector instead), so the misspelt
    # key is the one problem.
    assert stacks.load_problems(path) == [
        (12, 5, "node_pools.system.instance_typ", "unknown field 'instance_typ' (did you mean 'instance_type'?)"),
    ]
    assert stacks.rules == ["GF-STACK-002"]


def test_a_pool_gives_instance_type_or_node_selector(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            nodes: {min: 1, max: 2}
        """
    )
    [(line, column, where, message)] = stacks.load_problems(path)
    assert (line, column, where) == (10, 3, "node_pools.system")
    assert "give instance_type" in message and "node_selector" in message


def test_unknown_field_in_a_flow_mapping(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2, desird: 2}
        """
    )
    # Line 13 "    nodes: {min: 1, max: 2, desird: 2}": 'desird' starts at column 29.
    assert stacks.load_problems(path) == [
        (13, 29, "node_pools.system.nodes.desird", "unknown field 'desird' (did you mean 'desired'?)"),
    ]
    assert stacks.rules == ["GF-STACK-002"]


def test_unknown_field_without_a_close_match(stacks) -> None:
    path = stacks.aws(
        """
        colour: blue
        node_pools:
        """,
        stacks.system_pool,
    )
    assert stacks.load_problems(path) == [(9, 1, "colour", "unknown field 'colour'")]
    assert stacks.rules == ["GF-STACK-002"]


def test_unknown_top_level_section_suggests_the_right_one(stacks) -> None:
    path = stacks.aws(
        """
        nodepools:
        """,
        stacks.system_pool,
    )
    # node_pools is then missing: a missing top-level section has no line of its own (1:1).
    assert stacks.load_problems(path) == [
        (1, 1, "node_pools", "required field is missing"),
        (9, 1, "nodepools", "unknown field 'nodepools' (did you mean 'node_pools'?)"),
    ]
    assert stacks.rules == ["GF-STACK-003", "GF-STACK-002"]


def test_missing_field_is_located_at_its_parent(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
        """
    )
    assert stacks.load_problems(path) == [(10, 3, "node_pools.system.nodes", "required field is missing")]
    assert stacks.rules == ["GF-STACK-003"]


def test_missing_cluster_field(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo
          provider: kubernetes
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [(1, 1, "cluster.kubernetes_version", "required field is missing")]
    assert stacks.rules == ["GF-STACK-003"]


def test_empty_value_is_located_at_its_key(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes:
            fabric:
        """
    )
    # "nodes:" on line 13 has no value; ruamel would place the empty value at the next
    # token (line 14), the error belongs to line 13.
    assert stacks.load_problems(path) == [
        (13, 5, "node_pools.system.nodes", "must be a mapping (key: value pairs), got nothing (an empty value)"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_empty_last_section_stays_inside_the_file(stacks) -> None:
    path = stacks.aws("node_pools:\n")
    assert stacks.load_problems(path) == [
        (9, 1, "node_pools", "must be a mapping (key: value pairs), got nothing (an empty value)"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_no_node_pools(stacks) -> None:
    path = stacks.aws("node_pools: {}\n")
    [(line, column, field, message)] = stacks.load_problems(path)
    assert (line, column, field) == (9, 1, "node_pools")
    assert "at least 1 item" in message
    assert stacks.rules == ["GF-STACK-004"]


def test_scalar_where_a_mapping_is_needed(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: 3
        """
    )
    assert stacks.load_problems(path) == [
        (13, 12, "node_pools.system.nodes", "must be a mapping (key: value pairs), got a number (3)"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_scalar_where_a_list_is_needed(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          data: {kind: s3}
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
            storage: data
        """
    )
    # Line 16 "    storage: data": the value starts at column 14.
    assert stacks.load_problems(path) == [
        (16, 14, "node_pools.system.storage", "must be a list, got a string ('data')"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


# -- literals, numbers, names ------------------------------------------------------------------


def test_bad_literal(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: batch
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [
        (11, 15, "node_pools.system.workload", "must be 'training', 'inference', 'lab' or 'system', got 'batch'"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_bad_provider(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo
          provider: gcp
          kubernetes_version: "1.33"
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [(3, 13, "cluster.provider", "must be 'aws' or 'kubernetes', got 'gcp'")]
    assert stacks.rules == ["GF-STACK-004"]


@pytest.mark.parametrize(
    ("written", "quoted"),
    [("1.33", "1.33"), ("1.30", "1.30"), ("1.3e1", "1.3e1")],
)
def test_kubernetes_version_read_as_a_number(stacks, written: str, quoted: str) -> None:
    path = stacks.write(
        f"""
        cluster:
          name: demo
          provider: kubernetes
          kubernetes_version: {written}
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {{min: 1, max: 2}}
        """
    )
    # Line 4 "  kubernetes_version: 1.33": the value starts at column 23. The hint quotes the
    # number as written (1.30, not 1.3, which the version pattern would then refuse).
    assert stacks.load_problems(path) == [
        (4, 23, "cluster.kubernetes_version", f"must be a string; write it in quotes ('{quoted}'), YAML read it as a number"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_quoted_but_malformed_kubernetes_version(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo
          provider: kubernetes
          kubernetes_version: "1.3"
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [
        (4, 23, "cluster.kubernetes_version", "invalid value '1.3' (must match ^1\\.[0-9]{2}$)"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_number_as_a_label_value(stacks) -> None:
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
            labels: {team: 42}
        """
    )
    # Line 14 "    labels: {team: 42}": 42 at column 20.
    assert stacks.load_problems(path) == [
        (14, 20, "node_pools.system.labels.team", "must be a string; write it in quotes ('42'), YAML read it as a number"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


@pytest.mark.parametrize(
    "name",
    ["GPU-pool", "gpu_pool", "9pool", "pool-", "-pool", "a" * 41],
)
def test_bad_pool_name(stacks, name: str) -> None:
    path = stacks.aws(
        f"""
        node_pools:
          {name}:
            workload: system
            instance_type: m7i.xlarge
            nodes: {{min: 1, max: 2}}
        """
    )
    assert stacks.load_problems(path) == [(10, 3, f"node_pools.{name}", f"invalid name '{name}': {NAME_RULE}")]
    assert stacks.rules == ["GF-STACK-005"]


def test_longest_name_is_accepted(stacks) -> None:
    name = "a" * 40
    stack = stacks.load(
        stacks.aws(
            f"""
            node_pools:
              {name}:
                workload: system
                instance_type: m7i.xlarge
                nodes: {{min: 1, max: 2}}
            """
        )
    )
    assert list(stack.spec.node_pools) == [name]


def test_bad_fabric_name_and_bad_reference(stacks) -> None:
    path = stacks.aws(
        """
        fabrics:
          Fast_Net: {kind: efa}
        storage:
          data: {kind: s3}
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
            storage: [data, Scratch]
        """
    )
    # Line 18 "    storage: [data, Scratch]": 'Scratch' starts at column 21.
    assert stacks.load_problems(path) == [
        (10, 3, "fabrics.Fast_Net", f"invalid name 'Fast_Net': {NAME_RULE}"),
        (18, 21, "node_pools.system.storage.1", f"invalid name 'Scratch': {NAME_RULE}"),
    ]
    assert stacks.rules == ["GF-STACK-005", "GF-STACK-005"]


def test_cluster_name_is_a_name(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: AI Prod
          provider: kubernetes
          kubernetes_version: "1.33"
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [(2, 9, "cluster.name", f"invalid name 'AI Prod': {NAME_RULE}")]
    assert stacks.rules == ["GF-STACK-005"]


# -- storage kinds ---------------------------------------------------------------------------


def test_unknown_storage_kind(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          cache: {kind: ebs}
        node_pools:
        """,
        stacks.system_pool,
    )
    # Line 10 "  cache: {kind: ebs}": 'ebs' starts at column 17.
    assert stacks.load_problems(path) == [
        (10, 17, "storage.cache.kind", "unknown kind 'ebs'; expected one of 's3', 'fsx-lustre', 'local-nvme'"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_storage_without_kind(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          cache: {versioning: true}
        node_pools:
        """,
        stacks.system_pool,
    )
    assert stacks.load_problems(path) == [(10, 3, "storage.cache", "missing 'kind'")]
    assert stacks.rules == ["GF-STACK-003"]


def test_field_of_another_storage_kind(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          data:
            kind: s3
            capacity_tib: 1.2
        node_pools:
        """,
        stacks.system_pool,
    )
    # The discriminator value ('s3') that pydantic puts in the path is not shown.
    assert stacks.load_problems(path) == [(12, 5, "storage.data.capacity_tib", "unknown field 'capacity_tib'")]
    assert stacks.rules == ["GF-STACK-002"]


def test_fsx_ranges(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          scratch:
            kind: fsx-lustre
            deployment: PERSISTENT_3
            capacity_tib: 0
            throughput_per_tib: -125
        node_pools:
        """,
        stacks.system_pool,
    )
    assert stacks.load_problems(path) == [
        (12, 17, "storage.scratch.deployment", "must be 'SCRATCH_2', 'PERSISTENT_1' or 'PERSISTENT_2', got 'PERSISTENT_3'"),
        (13, 19, "storage.scratch.capacity_tib", "must be greater than 0"),
        (14, 25, "storage.scratch.throughput_per_tib", "must be greater than 0"),
    ]
    assert stacks.rules == ["GF-STACK-004", "GF-STACK-004", "GF-STACK-004"]


# -- node counts --------------------------------------------------------------------------------

POOL_WITH_NODES = """
node_pools:
  system:
    workload: system
    instance_type: m7i.xlarge
    nodes: {nodes}
"""


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        # Whole-mapping problems point at "nodes" (line 13, column 5).
        ("{min: 3, max: 2}", [(13, 5, "node_pools.system.nodes", "need min <= desired <= max, got 3 <= 3 <= 2")]),
        ("{min: 1, desired: 5, max: 2}", [(13, 5, "node_pools.system.nodes", "need min <= desired <= max, got 1 <= 5 <= 2")]),
        ("{min: 2, desired: 1, max: 4}", [(13, 5, "node_pools.system.nodes", "need min <= desired <= max, got 2 <= 1 <= 4")]),
        # Value problems point at the value: "    nodes: {min: -1, max: 2}" has -1 at column 18.
        ("{min: -1, max: 2}", [(13, 18, "node_pools.system.nodes.min", "must be greater than or equal to 0")]),
        ("{min: 0, max: 0}", [(13, 26, "node_pools.system.nodes.max", "must be greater than or equal to 1")]),
        ("{min: 0, desired: -2, max: 3}", [(13, 30, "node_pools.system.nodes.desired", "must be greater than or equal to 0")]),
        ("{min: 1.5, max: 2}", [(13, 18, "node_pools.system.nodes.min", "must be a whole number, got a number (1.5)")]),
        ("{min: '1', max: 2}", [(13, 18, "node_pools.system.nodes.min", "must be a whole number, got a string ('1')")]),
        ("{max: 2}", [(13, 5, "node_pools.system.nodes.min", "required field is missing")]),
    ],
)
def test_node_counts(stacks, nodes: str, expected) -> None:
    path = stacks.aws(POOL_WITH_NODES.format(nodes=nodes))
    assert stacks.load_problems(path) == expected
    assert stacks.rules == [
        "GF-STACK-003" if message == "required field is missing" else "GF-STACK-004" for *_, message in expected
    ]


def test_node_counts_in_order_are_accepted(stacks) -> None:
    spec = stacks.load(stacks.aws(POOL_WITH_NODES.format(nodes="{min: 0, desired: 2, max: 3}"))).spec
    nodes = spec.node_pools["system"].nodes
    assert (nodes.min, nodes.initial, nodes.max) == (0, 2, 3)
    spec = stacks.load(stacks.aws(POOL_WITH_NODES.format(nodes="{min: 1, max: 3}"))).spec
    assert spec.node_pools["system"].nodes.initial == 1


@pytest.mark.parametrize("value", ["true", "false"])
def test_boolean_is_not_a_node_count(stacks, value: str) -> None:
    """YAML booleans are not counts: `max: true` must not silently become 1."""
    path = stacks.aws(POOL_WITH_NODES.format(nodes=f"{{min: 0, max: {value}}}"))
    assert stacks.load_problems(path) == [
        (13, 26, "node_pools.system.nodes.max", f"must be a whole number, got a boolean ({value})"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


def test_boolean_is_not_a_capacity(stacks) -> None:
    path = stacks.aws(
        """
        storage:
          scratch: {kind: fsx-lustre, capacity_tib: true, throughput_per_tib: 125}
        node_pools:
        """,
        stacks.system_pool,
    )
    # Line 10: "  scratch: {kind: fsx-lustre, capacity_tib: true, ...": true at column 45.
    assert stacks.load_problems(path) == [
        (10, 45, "storage.scratch.capacity_tib", "must be a number, got a boolean (true)"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


# -- capacity -------------------------------------------------------------------------------------


CAPACITY_POOL = """
node_pools:
  train:
    workload: inference
    instance_type: p5.48xlarge
    nodes: {{min: 2, max: 2}}
    capacity: {capacity}
"""


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (
            "{type: capacity-block}",
            [(14, 5, "node_pools.train.capacity", "capacity type capacity-block needs reservation_id (cr-...)")],
        ),
        (
            "{type: reservation}",
            [(14, 5, "node_pools.train.capacity", "capacity type reservation needs reservation_id (cr-...)")],
        ),
        (
            "{type: spot, reservation_id: cr-0123456789abcdef0}",
            [
                (
                    14,
                    5,
                    "node_pools.train.capacity",
                    "reservation_id and availability_zone only apply to capacity-block or reservation, not spot",
                )
            ],
        ),
        (
            # "    capacity: {type: capacity-block, reservation_id: cr-xyz}": the id at column 54.
            "{type: capacity-block, reservation_id: cr-xyz}",
            [(14, 54, "node_pools.train.capacity.reservation_id", "invalid value 'cr-xyz' (must match ^cr-[0-9a-f]{8,17}$)")],
        ),
        (
            "{type: dedicated}",
            [
                (
                    14,
                    22,
                    "node_pools.train.capacity.type",
                    "must be 'on-demand', 'spot', 'capacity-block' or 'reservation', got 'dedicated'",
                )
            ],
        ),
    ],
)
def test_capacity(stacks, capacity: str, expected) -> None:
    assert stacks.load_problems(stacks.aws(CAPACITY_POOL.format(capacity=capacity))) == expected
    assert stacks.rules == ["GF-STACK-004"]


# -- cluster and network ------------------------------------------------------------------------


def test_aws_needs_a_region(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo
          provider: aws
          kubernetes_version: "1.33"
        network:
          vpc_cidr: 10.0.0.0/16
          availability_zones: [us-east-1a]
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [(1, 1, "cluster", "region is required when provider is aws")]
    assert stacks.rules == ["GF-STACK-004"]


def test_aws_needs_a_network(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo
          provider: aws
          region: us-east-1
          kubernetes_version: "1.33"
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [(1, 1, "", "network is required when cluster.provider is aws")]
    assert stacks.rules == ["GF-STACK-004"]


def test_bad_region(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: demo
          provider: aws
          region: us-east
          kubernetes_version: "1.33"
        network:
          vpc_cidr: 10.0.0.0/16
          availability_zones: [us-east-1a]
        node_pools:
          system:
            workload: system
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """
    )
    assert stacks.load_problems(path) == [
        (4, 11, "cluster.region", "invalid value 'us-east' (must match ^[a-z]{2}(-[a-z]+)+-[0-9]$)"),
    ]
    assert stacks.rules == ["GF-STACK-004"]


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        (
            "10.0.0.0/20",
            "must be a /16 (the largest VPC AWS allows), not /20: gpufleet splits it into per-zone and per-pool subnets",
        ),
        (
            "10.0.0.0/8",
            "must be a /16 (the largest VPC AWS allows), not /8: gpufleet splits it into per-zone and per-pool subnets",
        ),
        ("10.0.0.1/16", "input is not a valid IPv4 network"),
        ("banana", "input is not a valid IPv4 network"),
    ],
)
def test_vpc_cidr(stacks, cidr: str, message: str) -> None:
    text = stacks.head.replace("10.0.0.0/16", cidr) + "node_pools:\n" + stacks.system_pool
    # Line 7 "network: {vpc_cidr: 10.0.0.0/16,": the value starts at column 21.
    assert stacks.load_problems(stacks.write(text)) == [(7, 21, "network.vpc_cidr", message)]
    assert stacks.rules == ["GF-STACK-004"]


def test_network_needs_a_zone(stacks) -> None:
    text = stacks.head.replace("[us-east-1a, us-east-1b]", "[]") + "node_pools:\n" + stacks.system_pool
    [(line, column, field, message)] = stacks.load_problems(stacks.write(text))
    # An empty list is located at its key, like any mapping or list (line 8, column 3).
    assert (line, column, field) == (8, 3, "network.availability_zones")
    assert "at least 1 item" in message
    assert stacks.rules == ["GF-STACK-004"]


# -- MIG plan shape -------------------------------------------------------------------------------


def test_mig_plan_needs_exactly_one_form(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          half:
            gpu: H100
            layout: {3g.40gb: 2}
            demand:
              - {name: chat, memory_gib: 20}
          none:
            gpu: H100
        node_pools:
        """,
        stacks.system_pool,
    )
    assert stacks.load_problems(path) == [
        (10, 3, "mig_plans.half", "give exactly one of layout, devices or demand"),
        (15, 3, "mig_plans.none", "give exactly one of layout, devices or demand"),
    ]
    assert stacks.rules == ["GF-STACK-004", "GF-STACK-004"]


def test_mig_layout_counts_are_positive(stacks) -> None:
    path = stacks.aws(
        """
        mig_plans:
          half:
            gpu: H100
            layout: {3g.40gb: 0}
        node_pools:
        """,
        stacks.system_pool,
    )
    # Line 12 "    layout: {3g.40gb: 0}": 0 at column 23.
    assert stacks.load_problems(path) == [(12, 23, "mig_plans.half.layout.3g.40gb", "must be greater than or equal to 1")]
    assert stacks.rules == ["GF-STACK-004"]


# -- all problems, one run -------------------------------------------------------------------------


def test_every_problem_of_a_file_in_one_run_sorted_by_line(stacks) -> None:
    path = stacks.write(
        """
        cluster:
          name: Demo
          provider: aws
          region: us-east-1
          kubernetes_version: 1.33
        network:
          vpc_cidr: 10.0.0.0/24
          availability_zones: [us-east-1a]
        storage:
          cache: {kind: tmpfs}
        node_pools:
          train:
            workload: training
            instance_type: p5.48xlarge
            nodes: {min: 4, max: 2}
            capacity: {type: capacity-block}
          serve:
            workload: serving
            instance_typ: g6.xlarge
            nodes: {min: 0, max: 2}
        """
    )
    problems = stacks.load_problems(path)
    assert problems == [
        (2, 9, "cluster.name", f"invalid name 'Demo': {NAME_RULE}"),
        (5, 23, "cluster.kubernetes_version", "must be a string; write it in quotes ('1.33'), YAML read it as a number"),
        (
            7,
            13,
            "network.vpc_cidr",
            "must be a /16 (the largest VPC AWS allows), not /24: gpufleet splits it into per-zone and per-pool subnets",
        ),
        (10, 17, "storage.cache.kind", "unknown kind 'tmpfs'; expected one of 's3', 'fsx-lustre', 'local-nvme'"),
        (15, 5, "node_pools.train.nodes", "need min <= desired <= max, got 4 <= 4 <= 2"),
        (16, 5, "node_pools.train.capacity", "capacity type capacity-block needs reservation_id (cr-...)"),
        (18, 15, "node_pools.serve.workload", "must be 'training', 'inference', 'lab' or 'system', got 'serving'"),
        (19, 5, "node_pools.serve.instance_typ", "unknown field 'instance_typ' (did you mean 'instance_type'?)"),
    ]
    assert problems == sorted(problems)
    assert stacks.rules == [
        "GF-STACK-005",
        "GF-STACK-004",
        "GF-STACK-004",
        "GF-STACK-004",
        "GF-STACK-004",
        "GF-STACK-004",
        "GF-STACK-004",
        "GF-STACK-002",
    ]


def test_problem_string_format(stacks, monkeypatch) -> None:
    monkeypatch.chdir(stacks.directory)
    path = stacks.aws(
        """
        node_pools:
          system:
            workload: batch
            instance_type: m7i.xlarge
            nodes: {min: 1, max: 2}
        """,
        name="prod.yaml",
    )
    with pytest.raises(StackInvalid) as caught:
        load_stack(path)
    # The file is shown relative to the working directory, as the user typed it.
    assert [str(p) for p in caught.value.findings] == [
        "prod.yaml:11:15: node_pools.system.workload: must be 'training', 'inference', 'lab' or 'system', got 'batch'"
    ]
    assert str(caught.value) == str(caught.value.findings[0])


def test_problem_string_without_a_field() -> None:
    from gpufleet.findings import Finding, Location

    here = Location("a.yaml", 3, 4)
    assert str(Finding("GF-X-001", "error", (), "boom", location=here)) == "a.yaml:3:4: boom"
    assert (
        str(Finding("GF-X-001", "error", ("node_pools", "x", "storage", 1), "boom", location=here))
        == "a.yaml:3:4: node_pools.x.storage.1: boom"
    )
    assert str(Finding("GF-X-001", "warning", ("cluster",), "hm", location=here)) == "a.yaml:3:4: warning: cluster: hm"


# -- unreadable files -------------------------------------------------------------------------------


def test_missing_file_is_a_file_error(tmp_path) -> None:
    with pytest.raises(StackFileError) as caught:
        load_stack(tmp_path / "nope.yaml")
    assert "nope.yaml: cannot read stack file" in str(caught.value)


def test_directory_is_a_file_error(tmp_path) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(StackFileError) as caught:
        load_stack(folder)
    assert "cannot read stack file" in str(caught.value)


def test_non_utf8_file_is_a_file_error(tmp_path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("cluster:\n  name: d\xe9mo\n".encode("latin-1"))
    with pytest.raises(StackFileError):
        load_stack(path)
