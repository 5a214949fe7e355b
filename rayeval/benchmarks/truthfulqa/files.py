"""TruthfulQA's generation files, shared by the generation side (`spec`) and `scoring`."""

GENERATED = "TruthfulQA_generated.csv"
"""The input CSV plus a column named after the model: the file the official `evaluate.py` reads.
Its presence marks generation as done."""
LOGLIKELIHOODS = "mc_loglikelihoods.jsonl"
"""Per question, the raw per-choice log-likelihoods and labels (`null` without MC); with
`"unavailable": reason` instead when the engine could not score (an API without prompt
log-probabilities), which the scorer reports as unavailable, never as 0."""
