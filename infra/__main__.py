"""Entry point for `pulumi up`: Pulumi.yaml's `main` points at this folder."""

from gpufleet.program import run

run()
