"""Wire-form conversion: what the engine receives becomes plain JSON."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime import rpc

from gpufleet.preview.wire import plain_to_struct, struct_to_plain

SIG = rpc._special_sig_key


def tagged(signature: str, **fields) -> dict:
    return {SIG: signature, **fields}


def test_secrets_are_revealed_and_their_paths_recorded():
    struct = plain_to_struct(
        {
            "data": {"token": tagged(rpc._special_secret_sig, value="hunter2"), "plain": "x"},
            "list": ["a", tagged(rpc._special_secret_sig, value=3)],
            "odd/key": tagged(rpc._special_secret_sig, value=True),
        }
    )
    plain, secret_paths = struct_to_plain(struct)
    assert plain == {"data": {"token": "hunter2", "plain": "x"}, "list": ["a", 3], "odd/key": True}
    assert secret_paths == ("/data/token", "/list/1", "/odd~1key")


def test_resource_references_become_urns():
    urn = "urn:pulumi:dev::gpufleet::aws:ec2/vpc:Vpc::main"
    struct = plain_to_struct({"vpc": tagged(rpc._special_resource_sig, urn=urn, id="vpc-1")})
    assert struct_to_plain(struct) == ({"vpc": urn}, ())


def test_assets_keep_their_source():
    struct = plain_to_struct({"script": tagged(rpc._special_asset_sig, text="#!/bin/sh")})
    assert struct_to_plain(struct)[0] == {"script": {"asset": {"text": "#!/bin/sh"}}}


def test_unknowns_and_nulls_are_dropped_from_maps():
    struct = plain_to_struct({"known": 1, "unknown": rpc.UNKNOWN, "null": None})
    assert struct_to_plain(struct)[0] == {"known": 1}


def test_whole_number_doubles_become_ints():
    plain, _ = struct_to_plain(plain_to_struct({"size": 1200.0, "ratio": 0.5}))
    assert plain == {"size": 1200, "ratio": 0.5}
    assert isinstance(plain["size"], int)


json_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.text(max_size=8).filter(lambda s: s != rpc.UNKNOWN),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_plain_json_round_trips_through_the_wire(document):
    plain, secret_paths = struct_to_plain(plain_to_struct(document))
    assert secret_paths == ()
    assert plain == document
