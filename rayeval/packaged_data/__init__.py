"""Benchmark data shipped with rayeval so the default run works offline (see NOTICE.md)."""
