"""AlpacaEval 2: instructions judged against a baseline (spec, generation and judged scoring)."""
