"""The pack's program: the engine (or ``gpufleet check``) runs it with ``python -m pulumi.policy``.

The policies live in ``gpufleet.policy.pack`` so an installed gpufleet carries them too.
"""

from gpufleet.policy.pack import serve

serve()
