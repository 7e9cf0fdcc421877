"""Policy as code: the sizing the pack's policies and the check report share, the offline
Analyzer driver for the pack in ``policies/``, and the check's findings and SARIF output."""
