"""Runs every benchmark module (bench/bench_*.py) on the local control plane.

    python -m bench                 all of them
    python -m bench operator sync   only these

Each module's `main()` prints a table and writes bench-results/<area>.json; numbers
are reported, never asserted (the goals are in docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import bench

REPO = Path(__file__).resolve().parents[1]
CRDS = (
    "crd/agenttasks.orchestration.coditect.ai",
    "crd/agentplans.orchestration.coditect.ai",
    "crd/agentprofiles.orchestration.coditect.ai",
)


def install_crds() -> None:
    """Applies crds/ to the cluster in KUBECONFIG: a control plane just brought up has none."""
    kubectl = [
        str(REPO / ".cluster" / "bin" / "kubectl"),
        f"--kubeconfig={os.environ['KUBECONFIG']}",
    ]
    subprocess.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "--timeout=60s", *CRDS],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main(argv: list[str]) -> int:
    areas = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )
    chosen = argv or areas
    unknown = sorted(set(chosen) - set(areas))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(areas)}")
        return 2
    if "KUBECONFIG" in os.environ:
        install_crds()
    failed = []
    for area in chosen:
        print(f"\n=== bench {area} ===", flush=True)
        start = time.monotonic()
        module = importlib.import_module(f"bench.bench_{area}")
        sys.argv = [f"bench_{area}"]  # each module parses its own (empty) command line
        if module.main() != 0:
            failed.append(area)
        print(f"=== {area}: {time.monotonic() - start:.0f}s ===", flush=True)
    if failed:
        print(f"benchmarks that did not complete: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
