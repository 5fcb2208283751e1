"""Entry points that must run in a fresh interpreter (peak memory, `imgpipe local` runs).

`python -m bench._child COMMAND ARGS...` prints one JSON line; bench.common.run_child reads it.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    result: Any
    if command == "prep":
        from .prep import child

        result = child(args[0], args[1], int(args[2]))
    elif command == "prep-profile":
        from .prep import profile_child

        result = profile_child(args[0], *map(int, args[1:2]))
    elif command == "local":
        from .workers import local_child

        result = local_child(args[0], args[1], int(args[2]))
    elif command == "serial":
        from .workers import serial_child

        result = serial_child(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
