"""Help screens for people: a value's kind in words (PATH, TEXT), never a Python annotation.

Typer prints the annotation it derived for each parameter (``<bool>`` beside a flag,
``<list[Path]>`` beside an argument). The verbs' classes below show what a user types instead:
nothing for flags and arguments (their name and help say it), a word for an option's value.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_WORDS = {"str": "TEXT", "path": "PATH", "int": "INTEGER", "int range": "INTEGER", "float": "NUMBER", "float range": "NUMBER"}


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar:
            return self.metavar
        annotated = (super().display_type_rich(ctx) or "").strip("<>").removesuffix("...")
        inner = annotated.removeprefix("list[").removesuffix("]") if annotated.startswith("list[") else annotated
        return _WORDS.get(inner, inner)  # choices stay as they are: text|json|sarif


_READABLE: dict[type, type] = {TyperArgument: _Argument, TyperOption: _Option}


def _readable(params: list[Any]) -> list[Any]:
    """The same parameter objects, shown the readable way (parsing is unchanged)."""
    for param in params:
        param.__class__ = _READABLE.get(type(param), type(param))
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))
