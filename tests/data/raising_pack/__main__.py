"""A pack built without gpufleet's guard or rule ids: one stack policy divides by zero on every
stack, one resource policy flags the stack resource."""

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy


def broken(args, report_violation):
    return len(args.resources) / 0


def flag_the_stack(args, report_violation):
    if args.resource_type == "pulumi:pulumi:Stack":
        report_violation("a finding from a pack that is not gpufleet's")


PolicyPack(
    name="raising",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        StackValidationPolicy(name="divides-by-zero", description="Always raises.", validate=broken),
        ResourceValidationPolicy(name="flags-the-stack", description="Reports the stack resource.", validate=flag_the_stack),
    ],
)
