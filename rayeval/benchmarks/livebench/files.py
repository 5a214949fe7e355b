"""LiveBench's result files, shared by the generation side (`spec`) and `scoring`."""

ANSWERS = "model_answer.jsonl"
"""`<category>/<task>/model_answer.jsonl`: LiveBench's own answer format, sorted by `question_id`."""
JUDGMENTS = "judgment.jsonl"
SCORES = "scores.json"
