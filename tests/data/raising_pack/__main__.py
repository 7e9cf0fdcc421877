"""A pack built without gpufleet's guard: its stack policy divides by zero on every stack."""

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy


def broken(args, report_violation):
    return len(args.resources) / 0


PolicyPack(
    name="raising",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[StackValidationPolicy(name="divides-by-zero", description="Always raises.", validate=broken)],
)
