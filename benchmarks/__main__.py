"""Run every benchmark (or those named on the command line) and update benchmarks/RESULTS.md.

Each benchmark's section sits between markers in RESULTS.md; running some benchmarks replaces
their sections and keeps the others as they were.
"""

from __future__ import annotations

import importlib
import pathlib
import platform
import re
import sys
import time

import torch

HERE = pathlib.Path(__file__).parent
RESULTS = HERE / "RESULTS.md"


def _sections(text: str) -> dict[str, str]:
    found = re.findall(r"<!-- begin (\w+) -->\n(.*?)<!-- end \1 -->", text, flags=re.S)
    return dict(found)


def main(names: list[str]) -> None:
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if names:
        unknown = sorted(set(names) - set(modules))
        if unknown:
            sys.exit(f"unknown benchmark(s) {unknown}; known: {modules}")
    chosen = [m for m in modules if not names or m in names]
    sections = _sections(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in chosen:
        print(f"running {name} ...", flush=True)
        start = time.perf_counter()
        section = importlib.import_module(f"benchmarks.{name}").run().rstrip()
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        section += (
            f"\n\n_{name}: run {stamp} in {time.perf_counter() - start:.0f} s; Python "
            f"{platform.python_version()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads, {platform.machine()}._\n"
        )
        print(section, flush=True)
        sections[name] = section
    header = (
        "# Benchmark results\n\n"
        "Written by `make bench` (`python -m benchmarks [bench_name ...]`). Timings on a shared "
        "machine are noisy: compare the ratios, measured in one run, not the absolute times.\n\n"
    )
    body = "\n".join(
        f"<!-- begin {name} -->\n{sections[name]}<!-- end {name} -->\n"
        for name in modules
        if name in sections
    )
    RESULTS.write_text(header + body)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
