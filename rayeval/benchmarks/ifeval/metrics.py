"""IFEval accuracies from per-prompt verdicts: the two official levels plus per-instruction and
per-category breakdowns (what users read to debug their SFT data)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any


def _breakdown(followed: Counter[str], total: Counter[str]) -> dict[str, dict[str, Any]]:
    return {name: {"accuracy": followed[name] / total[name], "followed": followed[name], "total": total[name]} for name in sorted(total)}


def level_metrics(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracies of one mode (strict or loose) over eval-result rows
    (`instruction_id_list`, `follow_instruction_list`).

    Prompt level: share of prompts whose instructions are all followed. Instruction level: share
    of all instructions (over all prompts) followed. Categories are the id part before `:`.
    """
    by_id_followed: Counter[str] = Counter()
    by_id_total: Counter[str] = Counter()
    for row in rows:
        for instruction_id, followed in zip(row["instruction_id_list"], row["follow_instruction_list"]):
            by_id_total[instruction_id] += 1
            by_id_followed[instruction_id] += bool(followed)
    prompts_followed = sum(1 for row in rows if all(row["follow_instruction_list"]))
    instructions_followed = sum(by_id_followed.values())
    instructions_total = sum(by_id_total.values())
    return {
        "prompt_level_acc": prompts_followed / len(rows) if rows else None,
        "inst_level_acc": instructions_followed / instructions_total if instructions_total else None,
        "prompts_followed": prompts_followed,
        "prompts_total": len(rows),
        "instructions_followed": instructions_followed,
        "instructions_total": instructions_total,
        "per_instruction": _breakdown(by_id_followed, by_id_total),
        "per_category": _breakdown(*_by_category(by_id_followed, by_id_total)),
    }


def _by_category(followed: Counter[str], total: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    def fold(counts: Iterable[tuple[str, int]]) -> Counter[str]:
        folded: Counter[str] = Counter()
        for instruction_id, count in counts:
            folded[instruction_id.split(":")[0]] += count
        return folded

    return fold(followed.items()), fold(total.items())
