"""Benchmarks of the trainer, the scoring pass and the app: ``python benchmarks/bench.py``."""
