"""``gpufleet verify``'s pure parts: reading nccl-tests and dcgmi output, judging them, and the
small cluster boundary the command drives (``cluster``). Nothing here imports Pulumi or the CLI."""
