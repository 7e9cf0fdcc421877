"""The semantic rules, one function each, registered in ``SEMANTIC_RULES`` in import order."""

from gpufleet.model.rules import aws, cluster, cost, kubernetes, mig, monitoring, pools, storage, subnets  # noqa: F401  (registers the rules)
from gpufleet.model.rules.registry import SEMANTIC_RULES, SemanticRule

__all__ = ["SEMANTIC_RULES", "SemanticRule"]
