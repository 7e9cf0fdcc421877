"""The stack file: what a user writes, and how it is read."""

from gpufleet.stack.loader import LoadedStack, StackFileError, StackInvalid, load_stack
from gpufleet.stack.models import StackSpec

__all__ = ["LoadedStack", "StackFileError", "StackInvalid", "StackSpec", "load_stack"]
