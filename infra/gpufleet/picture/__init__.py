"""Pictures of a resolved fleet: an SVG for people and a Mermaid diagram for pull requests,
both drawn from one scene (``scene.py``) read from the plan."""

from gpufleet.picture.mermaid import render_mermaid
from gpufleet.picture.scene import Scene, fleet_scene, plan_scene
from gpufleet.picture.svg import render_svg

__all__ = ["Scene", "fleet_scene", "plan_scene", "render_mermaid", "render_svg"]
