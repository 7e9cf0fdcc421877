"""Typed provider facts: what a changed input of a rendered resource type does (``data/impact.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gpufleet.catalog.models import Fact

InputClass = Literal["replace", "new_version", "rolls_nodes", "in_place", "in_place_rejected", "ignored"]
Condition = Literal[
    "removed",
    "shrinks_or_scratch_1",
    "downgrade",
    "iops_decrease",
    "source_kind_changes",
    "static_claim_or_shrinks",
    "has_topology",
]


class InputFact(Fact):
    """What changing one input (and everything under it) does, and where that was read."""

    input_class: InputClass = Field(alias="class")
    src: str = ""
    quote: str | None = None
    cfn: str | None = None
    when: Condition | None = None
    otherwise: InputClass | None = Field(default=None, alias="else")
    note: str | None = None

    @model_validator(mode="after")
    def _condition_has_both_sides(self) -> InputFact:
        if (self.when is None) != (self.otherwise is None):
            raise ValueError("give `when` and `else` together")
        return self

    @property
    def source_key(self) -> str:
        return self.src.split(" ", 1)[0]


class TypeFacts(Fact):
    schema_source: str = Field(default="", alias="schema")
    """Where the inputs the type does not list were read (they update in place)."""
    note: str | None = None
    inputs: dict[str, InputFact] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _inputs_beside_schema(cls, record: object) -> object:
        """In the file a type's inputs sit beside ``schema`` and ``note``; ``a|b`` shares one entry."""
        if not isinstance(record, dict):
            return record
        inputs = {}
        for key, value in record.items():
            if key not in ("schema", "note"):
                inputs.update(dict.fromkeys(key.split("|"), value))
        return {"schema": record.get("schema", ""), "note": record.get("note"), "inputs": inputs}

    def fact_for(self, path: str) -> tuple[str, InputFact] | None:
        """The entry for an input path (indices dropped): the longest listed path it is, or is under."""
        best: tuple[str, InputFact] | None = None
        for listed, fact in self.inputs.items():
            if (path == listed or path.startswith(listed + ".")) and (best is None or len(listed) > len(best[0])):
                best = (listed, fact)
        return best


class Quoted(Fact):
    src: str
    quote: str
    note: str | None = None


class NodeUpdateFacts(Fact):
    drain_minutes: int = Field(gt=0)
    src: str
    quote: str
    default: Quoted
    minimal: Quoted
    every_node: Quoted
    capacity_block: Quoted


class KnockOn(Fact):
    type: str
    input: str
    src: str


class ImpactFacts(Fact):
    read_on: str
    provider_versions: dict[str, str]
    sources: dict[str, str]
    protected: Quoted
    replaced: Quoted
    node_update: NodeUpdateFacts
    knock_on: dict[Literal["new_version"], KnockOn]
    types: dict[str, TypeFacts]

    @model_validator(mode="before")
    @classmethod
    def _one_entry_per_type(cls, record: object) -> object:
        """``a|b`` type keys share one block of facts."""
        if isinstance(record, dict) and isinstance(record.get("types"), dict):
            types = {}
            for key, value in record["types"].items():
                types.update(dict.fromkeys(key.split("|"), value))
            record = {**record, "types": types}
        return record

    def for_type(self, type_token: str) -> TypeFacts | None:
        """A type's own facts, with the facts every object of its provider shares (``kubernetes:*``)."""
        own = self.types.get(type_token)
        shared = self.types.get(type_token.split(":", 1)[0] + ":*")
        if own is None or shared is None:
            return own or shared
        return own.model_copy(update={"inputs": {**shared.inputs, **own.inputs}})

    def cited(self, src: str) -> str:
        """A ``src`` ("tf eks/func.resourceNodeGroup:64-67") with its source key spelled out."""
        key, _, locator = src.partition(" ")
        base = self.sources[key]
        return f"{base}: {locator}" if locator else base

    def source_keys(self) -> set[str]:
        keys = {self.protected.src, self.replaced.src, self.node_update.src, self.knock_on["new_version"].src}
        keys |= {q.src for q in (self.node_update.default, self.node_update.minimal, self.node_update.every_node)}
        keys.add(self.node_update.capacity_block.src)
        for facts in self.types.values():
            keys |= {fact.source_key for fact in facts.inputs.values() if fact.src}
            if facts.schema_source:
                keys.add(facts.schema_source.split(" ", 1)[0])
        return keys
