"""IFEval: prompts with verifiable instructions (spec, generation and scoring)."""
