"""EFA interface layout per instance type (aws_efa_notes.md section 1 and 5).

Current AWS guidance: ENA ``interface`` primary at (card 0, device 0); ``efa-only`` at
(0, 1) when card 0 takes EFA; ``efa-only`` at (card i, device 0) on every further card;
one EFA per card; never more than MaximumEfaInterfaces.
"""

from __future__ import annotations

from collections import Counter

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.catalog.models import InstanceType, NetworkCardGroup
from gpufleet.model import efa_layout
from gpufleet.model.plan import InterfaceSlot

CATALOG = load_catalog()
EFA_TYPES = sorted(name for name, inst in CATALOG.instance_types.items() if inst.efa_supported)


def layout_of(name: str):
    return efa_layout(CATALOG.instance_types[name])


@pytest.mark.parametrize(
    ("name", "efa_count"),
    [
        ("p5.48xlarge", 32),
        ("p5e.48xlarge", 32),
        ("p5en.48xlarge", 16),
        ("p6-b200.48xlarge", 8),
        ("p6-b300.48xlarge", 16),
        ("g6e.48xlarge", 4),
        ("p4d.24xlarge", 4),
        ("trn1.32xlarge", 8),
        ("trn1n.32xlarge", 16),
        ("trn2.48xlarge", 16),
        ("p5.4xlarge", 1),
        ("g6.12xlarge", 1),
    ],
)
def test_efa_count(name: str, efa_count: int) -> None:
    assert layout_of(name).efa_count == efa_count


def test_p5_48xlarge_full_layout() -> None:
    expected = (
        InterfaceSlot(0, 0, "interface"),
        InterfaceSlot(0, 1, "efa-only"),
        *(InterfaceSlot(card, 0, "efa-only") for card in range(1, 32)),
    )
    assert layout_of("p5.48xlarge").interfaces == expected


def test_p6_b300_card_zero_is_ena_only() -> None:
    interfaces = layout_of("p6-b300.48xlarge").interfaces
    assert interfaces[0] == InterfaceSlot(0, 0, "interface")
    assert [nic for nic in interfaces if nic.card_index == 0] == [InterfaceSlot(0, 0, "interface")]
    assert interfaces[1:] == tuple(InterfaceSlot(card, 0, "efa-only") for card in range(1, 17))


def test_g6e_48xlarge_layout() -> None:
    assert layout_of("g6e.48xlarge").interfaces == (
        InterfaceSlot(0, 0, "interface"),
        InterfaceSlot(0, 1, "efa-only"),
        InterfaceSlot(1, 0, "efa-only"),
        InterfaceSlot(2, 0, "efa-only"),
        InterfaceSlot(3, 0, "efa-only"),
    )


def test_single_card_type_gets_one_efa_only_beside_the_primary() -> None:
    assert layout_of("p5.4xlarge").interfaces == (
        InterfaceSlot(0, 0, "interface"),
        InterfaceSlot(0, 1, "efa-only"),
    )


@pytest.mark.parametrize("name", EFA_TYPES)
def test_layout_invariants(name: str) -> None:
    inst = CATALOG.instance_types[name]
    interfaces = efa_layout(inst).interfaces
    cards = {card.index: card for card in inst.cards}

    # Primary: ENA at (0, 0), never efa-only.
    assert interfaces[0] == InterfaceSlot(0, 0, "interface")
    assert all(nic.interface_type != "efa-only" or (nic.card_index, nic.device_index) != (0, 0) for nic in interfaces)

    efas = [nic for nic in interfaces if nic.interface_type != "interface"]
    # As many EFAs as the type allows (the layout uses them all), never more.
    assert len(efas) == inst.max_efa_interfaces
    # One EFA per card, only on cards that accept EFA.
    per_card = Counter(nic.card_index for nic in efas)
    assert max(per_card.values()) == 1
    for nic in efas:
        assert nic.card_index in cards
        assert cards[nic.card_index].supports_efa
        assert nic.interface_type in cards[nic.card_index].interface_types
        expected_device = 1 if nic.card_index == 0 else 0
        assert nic.device_index == expected_device
    # Card 0 takes an EFA exactly when its InterfaceTypes allow it.
    assert (per_card.get(0, 0) == 1) == cards[0].supports_efa
    # No two interfaces share a (card, device) slot, and no card exceeds its ENI limit.
    slots = [(nic.card_index, nic.device_index) for nic in interfaces]
    assert len(slots) == len(set(slots))
    for index, used in Counter(nic.card_index for nic in interfaces).items():
        assert used <= cards[index].max_interfaces


def _synthetic(groups: list[NetworkCardGroup], max_efa: int) -> InstanceType:
    return InstanceType(
        name="x1.test",
        accelerator=None,
        accelerator_count=0,
        vcpus=8,
        memory_mib=1024,
        architecture="x86_64",
        network_performance="test",
        max_efa_interfaces=max_efa,
        ipv4_per_interface=50,
        network_cards=tuple(groups),
        placement_strategies=("cluster",),
        capacity_block=False,
        sources=("moto-ec2",),
    )


EFA_TYPES_ALL = ("interface", "efa", "efa-only")


def test_efa_maximum_below_card_count_caps_the_layout() -> None:
    inst = _synthetic(
        [NetworkCardGroup(first=0, count=8, interface_types=EFA_TYPES_ALL, max_interfaces=4, baseline_gbps=100)], max_efa=3
    )
    layout = efa_layout(inst)
    assert layout.efa_count == 3
    assert layout.interfaces == (
        InterfaceSlot(0, 0, "interface"),
        InterfaceSlot(0, 1, "efa-only"),
        InterfaceSlot(1, 0, "efa-only"),
        InterfaceSlot(2, 0, "efa-only"),
    )


def test_efa_maximum_below_card_count_without_card_zero() -> None:
    inst = _synthetic(
        [
            NetworkCardGroup(first=0, count=1, interface_types=("interface",), max_interfaces=4, baseline_gbps=100),
            NetworkCardGroup(first=1, count=8, interface_types=EFA_TYPES_ALL, max_interfaces=4, baseline_gbps=100),
        ],
        max_efa=2,
    )
    assert efa_layout(inst).interfaces == (
        InterfaceSlot(0, 0, "interface"),
        InterfaceSlot(1, 0, "efa-only"),
        InterfaceSlot(2, 0, "efa-only"),
    )


def test_card_zero_with_room_for_one_interface_uses_an_efa_primary() -> None:
    # With one ENI on card 0, the only way to give it EFA is an EFA-with-ENA primary.
    inst = _synthetic(
        [NetworkCardGroup(first=0, count=2, interface_types=EFA_TYPES_ALL, max_interfaces=1, baseline_gbps=100)], max_efa=2
    )
    layout = efa_layout(inst)
    assert layout.interfaces == (InterfaceSlot(0, 0, "efa"), InterfaceSlot(1, 0, "efa-only"))
    assert layout.efa_count == 2


def test_no_efa_type_has_only_the_primary() -> None:
    layout = layout_of("g6.xlarge")
    assert layout.efa_count == 0
    assert layout.interfaces == (InterfaceSlot(0, 0, "interface"),)
