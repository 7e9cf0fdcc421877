"""Translate property values between the engine's protobuf form and plain JSON.

The Pulumi SDK sends resource inputs to the engine as `google.protobuf.Struct`
values in which secrets, resource references and assets are maps tagged with a
signature key. Reading that wire form directly (instead of letting the SDK
rehydrate it into `Resource` objects and secret wrappers) gives exactly the
inputs the engine would see, in a JSON-safe shape.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

# Protocol constants shared by every Pulumi SDK and the engine.
_SIGNATURE_KEY = rpc._special_sig_key
_SECRET_SIGNATURE = rpc._special_secret_sig
_RESOURCE_REFERENCE_SIGNATURE = rpc._special_resource_sig
_ASSET_SIGNATURE = rpc._special_asset_sig
_ARCHIVE_SIGNATURE = rpc._special_archive_sig
_UNKNOWN = rpc.UNKNOWN


def struct_to_plain(struct: struct_pb2.Struct) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Return the struct as plain JSON values plus the JSON-pointer paths of secrets.

    Secrets are revealed in place (their paths are returned so writers can redact
    them), resource references become their URN, whole-number doubles become
    ints, and unknown or null values are dropped the way the SDK drops them.
    """
    secret_paths: list[str] = []
    plain = _from_struct(struct, "", secret_paths)
    if not isinstance(plain, dict):
        raise ValueError("a property map cannot itself be a secret, asset or reference")
    return plain, tuple(sorted(secret_paths))


def plain_to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    """Encode plain JSON values as the Struct the SDK expects back from the engine."""
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _from_struct(struct: struct_pb2.Struct, path: str, secret_paths: list[str]) -> Any:
    fields = struct.fields
    if _SIGNATURE_KEY in fields:
        return _from_tagged(fields, path, secret_paths)
    plain = {}
    for key, value in fields.items():
        converted = _from_value(value, f"{path}/{_escape_pointer(key)}", secret_paths)
        if converted is not None:
            plain[key] = converted
    return plain


def _from_tagged(fields, path: str, secret_paths: list[str]) -> Any:
    signature = fields[_SIGNATURE_KEY].string_value
    if signature == _SECRET_SIGNATURE:
        secret_paths.append(path)
        return _from_value(fields["value"], path, secret_paths)
    if signature == _RESOURCE_REFERENCE_SIGNATURE:
        return fields["urn"].string_value
    if signature in (_ASSET_SIGNATURE, _ARCHIVE_SIGNATURE):
        kind = "asset" if signature == _ASSET_SIGNATURE else "archive"
        body = {key: _from_value(value, f"{path}/{key}", secret_paths) for key, value in fields.items() if key != _SIGNATURE_KEY}
        return {kind: body}
    raise ValueError(f"unsupported property signature {signature!r} at {path or '/'}")


def _from_value(value: struct_pb2.Value, path: str, secret_paths: list[str]) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _from_struct(value.struct_value, path, secret_paths)
    if kind == "list_value":
        return [_from_value(item, f"{path}/{index}", secret_paths) for index, item in enumerate(value.list_value.values)]
    if kind == "string_value":
        return None if value.string_value == _UNKNOWN else value.string_value
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    return None


def _escape_pointer(key: str) -> str:
    """Escape a map key as a JSON-pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")
