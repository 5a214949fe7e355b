"""LiveBench's result files, shared by the generation side (`spec`) and `scoring`."""

ANSWERS = "model_answer.jsonl"
"""`<category>/<task>/model_answer.jsonl`: LiveBench's own answer format, sorted by `question_id`."""
JUDGMENTS = "judgment.jsonl"
SCORES = "scores.json"
DONE_MARKER = "generation_complete.json"
"""Written last by generation: the tasks written and their answer counts."""
