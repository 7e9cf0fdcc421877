"""``gpufleet verify``: run the fleet's validation jobs on its cluster and judge each pool; exit 0 all pass, 1 any fails."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gpufleet.commands.console import JsonFlag, err, out, print_json
from gpufleet.errors import UsageError

NAME = "verify"

Stack = Annotated[Path, typer.Argument(help="A stack file, e.g. stacks/staging.yaml.")]
Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", help="Kubeconfig file; default: kubernetes:kubeconfig in Pulumi.<stack>.yaml, then kubectl's own."
    ),
]
Context = Annotated[
    str | None, typer.Option("--context", help="Kubeconfig context; default: kubernetes:context in Pulumi.<stack>.yaml.")
]
Timeout = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds each phase (DCGM, then NCCL) may take before a job counts as hung.")
]


def _pulumi_config(stack: Path) -> dict[str, str]:
    """The ``kubernetes:`` settings of the Pulumi stack file beside the project, where onprem stacks keep them."""
    from gpufleet.stack.config import read_stack_config

    config = read_stack_config(stack.stem, Path("."))
    return {key.split(":", 1)[1]: str(value) for key, value in config.items() if key.startswith("kubernetes:")}


def command(
    stack: Stack,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    timeout: Timeout = 3600.0,
    as_json: JsonFlag = False,
) -> None:
    """Apply DCGM and NCCL jobs per pool, wait, read their logs, and print pass/fail per pool against the catalog's floors.

    Example: gpufleet verify stacks/prod.yaml --kubeconfig prod.kubeconfig --timeout 1800
    """
    from gpufleet.catalog import load_catalog
    from gpufleet.model import resolve
    from gpufleet.model.validation import validation_plan
    from gpufleet.stack import StackInvalid, load_stack
    from gpufleet.verify.cluster import Kubectl
    from gpufleet.verify.run import run_checks

    catalog = load_catalog()
    try:
        plan = resolve(load_stack(stack), catalog)
    except StackInvalid as invalid:
        raise UsageError("cannot verify an invalid stack:\n" + "\n".join(f"  {f}" for f in invalid.findings)) from None
    checks = validation_plan(plan, catalog)
    settings = _pulumi_config(stack)
    cluster = Kubectl(kubeconfig or settings.get("kubeconfig"), context or settings.get("context"))
    show = not as_json and sys.stderr.isatty()
    results = run_checks(checks, cluster, timeout, progress=_progress if show else None)
    if show:
        err.print("")
    passed = all(result.passed for result in results)
    if as_json:
        print_json(
            {
                "stack": plan.source,
                "passed": passed,
                "results": [result.as_json() for result in results],
                "skipped": [{"pool": r.subject, "reason": r.why} for r in checks.skipped],
            }
        )
    else:
        for result in results:
            mark = "pass" if result.passed else "FAIL"
            out.print(f"{mark}  {result.pool:<24} {result.check:<5} {result.reason}", markup=False)
        for reason in checks.skipped:
            out.print(f"skip  {reason.subject:<24}       {reason.why}", markup=False)
    raise typer.Exit(0 if passed else 1)


def _progress(line: str) -> None:
    sys.stderr.write(f"\r\033[K{line}")
    sys.stderr.flush()
