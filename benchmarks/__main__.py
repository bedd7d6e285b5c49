"""``make bench``: every benchmark in one run; ``python -m benchmarks ingest train`` picks some."""

from __future__ import annotations

import importlib
import sys

ALL = [
    "ingest",
    "validation",
    "train",
    "train_dask",
    "serving",
    "monitoring",
    "pipeline",
    "small_batch",
    "loop",
    "corpus",
]


def main(names: list[str]) -> int:
    """Run the named benchmarks (all by default) and print their tables."""
    for name in names or ALL:
        module = importlib.import_module(f"benchmarks.{name}")
        module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
