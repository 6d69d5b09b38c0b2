"""Run every benchmark (or those named on the command line) and write benchmarks/RESULTS.md."""

from __future__ import annotations

import importlib
import pathlib
import platform
import sys
import time

import torch


def main(names: list[str]) -> None:
    here = pathlib.Path(__file__).parent
    modules = sorted(p.stem for p in here.glob("bench_*.py"))
    if names:
        unknown = sorted(set(names) - set(modules))
        if unknown:
            sys.exit(f"unknown benchmark(s) {unknown}; known: {modules}")
        modules = [m for m in modules if m in names]
    sections = []
    for name in modules:
        print(f"running {name} ...", flush=True)
        start = time.perf_counter()
        section = importlib.import_module(f"benchmarks.{name}").run()
        print(section, flush=True)
        sections.append(
            f"{section.rstrip()}\n\n_{name} took {time.perf_counter() - start:.0f} s._\n"
        )
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, {platform.machine()}. "
        "Timings on a shared machine are noisy: compare the ratios, measured in one run, "
        "not the absolute times.\n\n"
    )
    (here / "RESULTS.md").write_text(header + "\n".join(sections))
    print(f"wrote {here / 'RESULTS.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
