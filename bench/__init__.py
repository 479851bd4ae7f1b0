"""Benchmarks of Seatwise (issue 9): one module per benchmark, results in BENCHMARKS.md.

Each module has `run(quick=..., record=...)` (used by the smoke test) and `main(argv)`
(`python -m bench.<name> [--quick] [--no-record]`); `make bench` runs them all.
"""
