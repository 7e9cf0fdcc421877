"""The stack spec: what a user writes, and how it is read."""

from gpufleet.spec.loader import Finding, LoadedStack, Problem, SpecInvalid, StackFileError, load_stack
from gpufleet.spec.models import StackSpec

__all__ = ["Finding", "LoadedStack", "Problem", "SpecInvalid", "StackFileError", "StackSpec", "load_stack"]
