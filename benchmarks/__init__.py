"""Speed measurements (see benchmarks/README.md)."""
