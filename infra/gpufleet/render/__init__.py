"""Renderers: turn a resolved ``FleetPlan`` into Pulumi resources. They decide nothing."""
