"""The semantic rules, one function each, registered in ``SEMANTIC_RULES`` in import order."""

from gpufleet.model.rules import (  # noqa: F401  (registers the rules)
    aws,
    cluster,
    cost,
    jobs,
    kubernetes,
    mig,
    monitoring,
    pools,
    storage,
    subnets,
)
from gpufleet.model.rules.registry import PLAN_RULES, SEMANTIC_RULES, PlanRule, SemanticRule

__all__ = ["PLAN_RULES", "SEMANTIC_RULES", "PlanRule", "SemanticRule"]
