"""The stack file's JSON Schema, for editors' YAML language servers."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from gpufleet.stack.models import StackSpec


class _StackSchema(GenerateJsonSchema):
    def dict_schema(self, schema: Any) -> dict[str, Any]:
        """Named maps (pools, tiers...): constrain the key names, not just match them.

        Pydantic renders a dict with a pattern-constrained key as ``patternProperties``,
        which lets any other key through; editors should flag ``Bad_Name`` as the loader does.
        """
        rendered = super().dict_schema(schema)
        patterns = rendered.pop("patternProperties", None)
        if patterns and len(patterns) == 1:
            ((pattern, values),) = patterns.items()
            rendered["propertyNames"] = {**rendered.get("propertyNames", {}), "pattern": pattern}
            rendered["additionalProperties"] = values
        elif patterns:
            rendered["patternProperties"] = patterns
        return rendered


def stack_json_schema() -> dict[str, Any]:
    document = StackSpec.model_json_schema(schema_generator=_StackSchema)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "gpufleet stack"
    return document
