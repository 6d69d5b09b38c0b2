"""Benchmarks: speed and memory goals, measured in one run against a baseline.

Each ``bench_*.py`` module has a ``run() -> str`` returning a Markdown section;
``python -m benchmarks`` (``make bench``) runs them all and writes ``benchmarks/RESULTS.md``.
"""
