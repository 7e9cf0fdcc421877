"""What an edit does before it is applied: every changed input of every rendered resource
classified (replace, rolls nodes, in place, rejected, blocked), each with the provider fact and
its source that decides it, what that means for each pool's nodes, and which deleted Kueue
objects wait for workloads.

It compares two runs of the very program ``pulumi up`` runs (the offline preview of each
stack) with the catalog's provider facts (``catalog/data/impact.yaml``); it never imports
Pulumi, so the policy pack's replacement gate runs the same classification.
"""

from gpufleet.impact.classify import IMPACT_WORDS, Impact, InputChange, Rendered, ResourceImpact, classify
from gpufleet.impact.pools import PoolDisruption, pool_disruptions
from gpufleet.impact.queues import QueueRemoval, queue_removals
from gpufleet.impact.report import ImpactReport

__all__ = [
    "IMPACT_WORDS",
    "Impact",
    "ImpactReport",
    "InputChange",
    "PoolDisruption",
    "QueueRemoval",
    "Rendered",
    "ResourceImpact",
    "classify",
    "pool_disruptions",
    "queue_removals",
]
