"""Scorers: pure functions over generated files, no Ray, no engines."""
