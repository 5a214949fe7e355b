"""Clean-room IFEval instruction checkers (Zhou et al., 2023): the 25 checkers of the official
`instruction_following_eval` and its strict and loose modes.

Shared by IFEval (`rayeval.benchmarks.ifeval.scoring`) and LiveBench's instruction-following
tasks; `follows_instructions` is the entry point.
"""

from rayeval.scoring.instructions.following import follows_instructions

__all__ = ["follows_instructions"]
