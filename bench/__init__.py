"""Benchmarks of the image pipeline: `make bench` (or `python -m bench [NAME ...] [--quick]`).

Results and plots go to docs/benchmarks.md and docs/img/. Every comparison is measured side by side
in one run and reported as a ratio, because the machine may be busy with other work.
"""

from __future__ import annotations

from . import coldstart, cost, latency, prep, workers

BENCHMARKS = (prep, latency, workers, coldstart, cost)
