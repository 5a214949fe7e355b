"""LiveBench: questions with objective ground truth (spec, question loading, task scorers)."""
