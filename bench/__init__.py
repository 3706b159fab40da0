"""Benchmarks: each module here has ``main(argv) -> int`` and prints its figures."""
