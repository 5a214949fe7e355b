"""Clean-room IFEval scorer (Zhou et al., 2023): the 25 instruction checkers of the official
`instruction_following_eval`, its strict and loose modes, and the benchmark's evaluation.

`follows_instructions` is the public entry point (LiveBench's instruction-following tasks use it);
`rayeval.scoring.ifeval.evaluate.evaluate_ifeval` scores a results folder.
"""

from rayeval.scoring.ifeval.following import follows_instructions

__all__ = ["follows_instructions"]
