"""`python -m bench [NAME ...] [--quick]`: run benchmarks, then regenerate docs/benchmarks.md.

With no NAME every benchmark runs. A benchmark not run this time keeps its last measured result
(.cache/bench/results/NAME.json) on the page, with the date it was measured.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import BENCHMARKS, common, report


def main(argv: list[str] | None = None) -> int:
    names = [module.NAME for module in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and images (a smoke run)")
    parser.add_argument("--page-only", action="store_true", help="only regenerate the page and plots")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    selected = [] if args.page_only else [m for m in BENCHMARKS if not args.names or m.NAME in args.names]
    options = common.Options(quick=args.quick)
    started = time.monotonic()
    for module in selected:
        common.log(f"{module.NAME}: {module.TITLE}")
        machine = common.machine()
        began = time.monotonic()
        result = module.run(options)
        result["machine"] = machine
        result["machine"]["load_average_after"] = common.load_average()
        result["quick"] = args.quick
        result["duration_s"] = round(time.monotonic() - began, 1)
        common.save_result(module.NAME, result)
        common.log(f"{module.NAME}: done in {result['duration_s']:.0f} s")
    page = report.write()
    common.log(f"wrote {page.relative_to(common.ROOT)} in {time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
