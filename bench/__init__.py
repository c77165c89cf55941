"""Benchmarks with recorded results; run with `make bench`, one folder per figure."""
