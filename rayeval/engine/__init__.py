"""Engines: vLLM behind a Ray actor, and their placement on the cluster."""
