"""Scoring helpers shared by several benchmarks (each benchmark's own scorer lives in its folder)."""
