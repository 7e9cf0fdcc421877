"""One module per ``gpufleet`` verb; ``gpufleet.cli`` mounts them and maps their errors."""
