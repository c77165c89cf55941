"""Run every benchmark (or the ones named): `python -m bench [chassis gateway ...]`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    wanted = sys.argv[1:] or sorted(p.name for p in HERE.iterdir() if (p / "run.py").exists())
    for name in wanted:
        print(f"== {name}", file=sys.stderr)
        importlib.import_module(f"bench.{name}.run").main()


main()
