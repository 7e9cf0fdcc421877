"""The installed pack's program, for ``python -m pulumi.policy <engine> <this directory>``."""

from gpufleet.policy.pack import serve

serve()
