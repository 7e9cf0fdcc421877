"""The semantic rules, one function each, registered in ``SEMANTIC_RULES`` in import order."""

from gpufleet.model.rules import aws, cluster, cost, kubernetes, mig, pools, storage, subnets  # noqa: F401  (registers the rules)
from gpufleet.model.rules.registry import PLAN_RULES, SEMANTIC_RULES, PlanRule, SemanticRule

__all__ = ["PLAN_RULES", "SEMANTIC_RULES", "PlanRule", "SemanticRule"]
