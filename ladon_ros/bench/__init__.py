"""Benchmarks that print tables (never timed asserts): camera-side encoder costs, edge throughput."""
