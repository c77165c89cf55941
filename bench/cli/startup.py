"""Start-up time of the operations scripts' helper commands (bench/results/cli-startup.md).

Usage: .venv/bin/python bench/cli/startup.py OLD_SRC   (OLD_SRC: a `git archive` of src/ from before the move, whose
helpers were run as `python -m ecommerce.ops.kubeobj`).
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
OLD_SRC = sys.argv[1] if len(sys.argv) > 1 else None
EAGER = (
    "import ecommerce.cli.service, ecommerce.cli.status, ecommerce.cli.db, ecommerce.cli.logs, "
    "ecommerce.cli.reconcile, ecommerce.cli.loadgen, ecommerce.cli.kubeobj"
)
CASES = {
    "after: python -m ecommerce kubeobj retag (lazy root)": (
        [PY, "-m", "ecommerce", "kubeobj", "retag", "shop:1", "2"],
        str(ROOT / "src"),
    ),
    "a root importing every group first (eager)": ([PY, "-c", EAGER], str(ROOT / "src")),
}
if OLD_SRC:
    CASES["before: python -m ecommerce.ops.kubeobj retag"] = (
        [PY, "-m", "ecommerce.ops.kubeobj", "retag", "shop:1", "2"],
        OLD_SRC,
    )


def main() -> None:
    """Seven runs of each command, median, min and max wall time; the load average before and after."""
    print(os.getloadavg())
    for name, (command, path) in CASES.items():
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            subprocess.run(command, env={**os.environ, "PYTHONPATH": path}, check=True, capture_output=True)
            runs.append(time.perf_counter() - started)
        median, low, high = statistics.median(runs) * 1000, min(runs) * 1000, max(runs) * 1000
        print(f"{name}: median {median:.0f} ms, min {low:.0f} ms, max {high:.0f} ms")
    print(os.getloadavg())


if __name__ == "__main__":
    main()
