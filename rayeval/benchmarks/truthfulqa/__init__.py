"""TruthfulQA (Lin, Hilton and Evans, 2021), with scorers written clean-room from the official rules.

- `spec`: the benchmark (options, data loading, requests, generation files);
- `text_metrics`: BLEU / ROUGE of generated answers against the true and false reference answers,
  cell for cell what the official `truthfulqa/evaluate.py` (through `t5.evaluation.metrics`)
  writes, computed with `sacrebleu` and `rouge-score` directly;
- `multiple_choice`: MC1, MC2 and the Jan-2025 binary choice from per-choice log-likelihoods;
- `judge`: the paper's end-to-end truth/info judges (GPT-judge, GPT-info) through the judge pool;
- `scoring`: reads the generation files of a results folder and writes the result files.
"""
