"""Layout feasibility: slice budgets, maxima, placement search, reasons, per-device plans."""

from __future__ import annotations

import pytest

from gpufleet.catalog import load_catalog
from gpufleet.mig import DeviceLayout, UnknownMigGpu, check_device_plan, check_layout

CATALOG = load_catalog()


def labels(check) -> list[str]:
    return [f"{instance.profile}@{instance.start}" for instance in check.placement]


def test_3g_3g_1g_adds_up_to_seven_compute_slices_but_needs_nine_memory_slices():
    check = check_layout(CATALOG, "A100-40GB", {"3g.20gb": 2, "1g.5gb": 1})
    assert not check.feasible
    assert check.reasons == ("Memory slices: 1 x 1g.5gb (1 each) + 2 x 3g.20gb (4 each) = 9 but A100-40GB has 8.",)


def test_4g_with_3g_fits_only_as_4g_at_0_and_3g_at_4_and_notes_the_driver():
    check = check_layout(CATALOG, "A100-80GB", {"4g.40gb": 1, "3g.40gb": 1})
    assert check.feasible
    assert labels(check) == ["4g.40gb@0", "3g.40gb@4"]
    assert check.creation_order == ("4g.40gb", "3g.40gb")
    assert check.notes == ("4g.40gb with 3g.40gb needs driver R510 or later.",)


def test_3g_pinned_at_slot_0_blocks_four_1g_while_the_same_set_unpinned_fits():
    pinned = check_layout(CATALOG, "H100-80GB", {"3g.40gb": 1, "1g.10gb": 4}, placements={"3g.40gb": [0]})
    assert not pinned.feasible
    (reason,) = pinned.reasons
    assert "4 x 1g.10gb need 4 place(s) but only 3 remain (starts 4, 5, 6)" in reason
    assert "starts 0, 1, 2, 3 blocked by 3g.40gb@0" in reason
    assert "free unit(s) 7 cannot hold 1g.10gb" in reason

    free = check_layout(CATALOG, "H100-80GB", {"3g.40gb": 1, "1g.10gb": 4})
    assert free.feasible
    assert labels(free) == ["1g.10gb@0", "1g.10gb@1", "1g.10gb@2", "1g.10gb@3", "3g.40gb@4"]


def test_3g_at_0_with_two_2g_fails_but_3g_at_4_works():
    assert not check_layout(CATALOG, "H100-80GB", {"3g.40gb": 1, "2g.20gb": 2}, placements={"3g.40gb": [0]}).feasible
    check = check_layout(CATALOG, "H100-80GB", {"3g.40gb": 1, "2g.20gb": 2}, placements={"3g.40gb": [4]})
    assert labels(check) == ["2g.20gb@0", "2g.20gb@2", "3g.40gb@4"]


@pytest.mark.parametrize(
    ("gpu", "layout", "card_gb"),
    [
        ("H100-NVL-94GB", {"1g.12gb": 2, "2g.24gb": 1, "3g.47gb": 1}, 94),
        ("H200-141GB", {"1g.18gb": 2, "2g.35gb": 1, "3g.71gb": 1}, 141),
    ],
)
def test_full_layouts_whose_names_add_up_past_the_card_are_still_valid(gpu, layout, card_gb):
    named_gb = sum(int(name.split(".")[1].removesuffix("gb")) * count for name, count in layout.items())
    assert named_gb > card_gb
    check = check_layout(CATALOG, gpu, layout)
    assert check.feasible, check.reasons
    assert check.creation_order[0].startswith("3g.")


def test_creation_order_puts_the_most_constrained_profile_first_like_the_guide_example():
    # The guide's `-cgi 19,19,14,9` fails and `-cgi 9,19,14,19` works: the 3g goes first.
    check = check_layout(CATALOG, "A100-40GB", {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1})
    assert check.creation_profile_ids == (9, 14, 19, 19)


def test_fragmented_gpu_with_1g_at_0_1_and_5_has_no_room_for_3g_or_4g():
    existing = [("1g.10gb", 0), ("1g.10gb", 1), ("1g.10gb", 5)]
    for profile in ("3g.40gb", "4g.40gb"):
        check = check_layout(CATALOG, "H100-80GB", {profile: 1}, existing=existing)
        assert not check.feasible
        assert "blocked by 1g.10gb@0, 1g.10gb@1" in check.reasons[0]
    check = check_layout(CATALOG, "H100-80GB", {"2g.20gb": 1, "1g.10gb": 1}, existing=existing)
    assert check.feasible
    assert [i.label for i in check.placement if i.existing] == ["1g.10gb@0", "1g.10gb@1", "1g.10gb@5"]
    assert check.creation_order == ("2g.20gb", "1g.10gb")


def test_existing_instances_count_toward_the_profile_maximum():
    check = check_layout(CATALOG, "H100-80GB", {"3g.40gb": 1}, existing=[("3g.40gb", 0), ("3g.40gb", 4)])
    assert "Profile limit: 3 x 3g.40gb (2 already on the GPU) but H100-80GB allows at most 2." in check.reasons


def test_rtx_pro_6000_1g_at_3_and_6_blocks_every_2g():
    check = check_layout(CATALOG, "RTX-PRO-6000-96GB", {"2g.48gb": 1}, existing=[("1g.24gb", 3), ("1g.24gb", 6)])
    assert not check.feasible
    assert "start 0 blocked by 1g.24gb@3; start 6 blocked by 1g.24gb@6" in check.reasons[0]
    assert check_layout(CATALOG, "RTX-PRO-6000-96GB", {"2g.48gb": 1}, existing=[("1g.24gb", 0), ("1g.24gb", 3)]).feasible


def test_one_gpu_never_holds_eight_1g_slices_though_memory_has_eight():
    check = check_layout(CATALOG, "H100-80GB", {"1g.10gb": 8})
    assert "Profile limit: 8 x 1g.10gb but H100-80GB allows at most 7." in check.reasons
    assert "Instance limit: 8 GPU instances but H100-80GB holds at most 7." in check.reasons


def test_media_engine_variant_is_limited_to_one():
    check = check_layout(CATALOG, "A30", {"1g.6gb+me": 2})
    assert check.reasons == ("Profile limit: 2 x 1g.6gb+me but A30-24GB allows at most 1.",)
    assert check_layout(CATALOG, "A30", {"1g.6gb+me": 1, "1g.6gb": 3}).notes == ("1g.6gb+me needs driver R470 or later.",)


def test_foreign_and_stale_names_are_reasons_that_list_the_valid_names():
    check = check_layout(CATALOG, "H100-80GB", {"1g.5gb": 1})
    assert not check.feasible
    assert check.reasons == (
        "1g.5gb does not exist on H100-80GB. It is a profile of A100-40GB. Profiles of H100-80GB:"
        " 1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb.",
    )
    stale = check_layout(CATALOG, "GB200-186GB", {"3g.95gb": 1})
    assert "what earlier boards or drivers called 3g.93gb" in stale.reasons[0]
    garbage = check_layout(CATALOG, "H100-80GB", {"three-g": 1})
    assert "'three-g' is not a MIG profile name" in garbage.reasons[0]


def test_compute_instance_names_count_as_their_gpu_instance():
    check = check_layout(CATALOG, "A100-40GB", {"2c.3g.20gb": 1, "3g.20gb": 1})
    assert check.feasible
    assert check.layout == {"3g.20gb": 2}
    assert not check_layout(CATALOG, "A100-40GB", {"1c.3g.20gb": 2, "3g.20gb": 1}).feasible


def test_pinned_starts_must_be_allowed_and_must_not_overlap():
    bad_start = check_layout(CATALOG, "H100-80GB", {"3g.40gb": 1}, placements={"3g.40gb": [2]})
    assert bad_start.reasons == ("Placement: 3g.40gb cannot start at 2 on H100-80GB; allowed placements {0,4}:4.",)
    overlap = check_layout(CATALOG, "H100-80GB", {"2g.20gb": 1}, existing=[("3g.40gb", 0)], placements={"2g.20gb": [2]})
    assert overlap.reasons == ("Placement: 3g.40gb@0 (units 0-3) overlaps 2g.20gb@2 (units 2-3).",)
    too_many = check_layout(CATALOG, "H100-80GB", {"2g.20gb": 1}, placements={"2g.20gb": [0, 2]})
    assert too_many.reasons == ("2 placement(s) given for 2g.20gb but the layout asks for 1 of it.",)


@pytest.mark.parametrize("count", [-1, 1.5, True, "2"])
def test_counts_must_be_whole_non_negative_numbers(count):
    check = check_layout(CATALOG, "H100-80GB", {"1g.10gb": count})
    assert not check.feasible
    assert "count must be a whole number >= 0" in check.reasons[0]


def test_empty_layout_is_mig_on_with_no_instances():
    check = check_layout(CATALOG, "H100-80GB", {"1g.10gb": 0})
    assert check.feasible and check.placement == () and check.layout == {}


def test_inferred_geometry_is_noted():
    assert check_layout(CATALOG, "B300-288GB", {"3g.135gb": 1}).notes == (
        "3g.135gb geometry on B300-288GB is unconfirmed, not seen on hardware.",
    )


def test_unknown_gpu_raises_the_one_error_the_api_raises():
    with pytest.raises(UnknownMigGpu):
        check_layout(CATALOG, "V100", {"1g.5gb": 1})


def test_device_plans_check_each_entry_and_reject_overlapping_or_missing_indexes():
    good = check_device_plan(
        CATALOG,
        "H100-80GB",
        [((0, 1), {"1g.10gb": 7}), ((2,), {"3g.40gb": 2}), ((3,), None), DeviceLayout(devices=(4,), layout={})],
        device_count=8,
    )
    assert good.feasible
    assert good.entries[2] is None and good.entries[0].feasible

    bad = check_device_plan(
        CATALOG,
        "H100-80GB",
        [((0, 1), {"1g.10gb": 7}), ((1, 8), {"3g.40gb": 3}), ("all", None)],
        device_count=8,
    )
    assert not bad.feasible
    assert bad.reasons == (
        "Entry 1 (devices [1, 8]): device 1 is already configured by entry 0.",
        "Entry 1 (devices [1, 8]): device index 8 does not exist (the node has 8 GPUs).",
        "Entry 1 (devices [1, 8]): Profile limit: 3 x 3g.40gb but H100-80GB allows at most 2.",
        "Entry 1 (devices [1, 8]): Compute slices: 3 x 3g.40gb (3 each) = 9 but H100-80GB has 7.",
        "Entry 1 (devices [1, 8]): Memory slices: 3 x 3g.40gb (4 each) = 12 but H100-80GB has 8.",
        "Entry 2 (devices all): 'all' includes devices already configured by entry 0.",
    )
