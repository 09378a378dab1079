"""Benchmarks of the watch daemon (``python bench/latency.py``); see bench/README.md."""
