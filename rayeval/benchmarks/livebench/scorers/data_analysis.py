"""LiveBench data-analysis scorers: column type annotation (cta) and join mappings (tablejoin).

Table reformatting needs pandas and lives in `table_reformat.py`.
"""

from __future__ import annotations

import ast
import json
import re

from rayeval.benchmarks.livebench.scorers.extract import last_boxed, unbox


def _letters_only(text: str) -> str:
    return re.sub(r"[^\w]", "", text.lower().strip())


def score_cta(question: dict, llm_answer: str) -> int:
    """The class name, compared on word characters only; a boxed answer is unwrapped first, and
    an answer that merely ends with the class counts."""
    answer = llm_answer
    if "\\boxed{" in answer:
        boxed = last_boxed(answer)
        if boxed is None:  # an unclosed box: the official code fails on it (remove_boxed(None))
            raise TypeError("the answer's last \\boxed{ is never closed")
        answer = unbox(boxed).replace("\\text{", "").replace("}", "").replace("\\", "")
    truth, given = _letters_only(question["ground_truth"]), _letters_only(answer)
    return int(truth == given or truth == given[-len(truth) :])


def score_tablejoin(question: dict, llm_answer: str) -> float:
    """F1 (rounded to 2 decimals) of the answered column mapping against the true one."""
    import numpy as np

    truth = question["ground_truth"]
    if not isinstance(truth, dict):
        truth = ast.literal_eval(truth)
    mapping = join_mapping(llm_answer)
    if not mapping:
        return 0.0
    tp = fp = fn = 0
    for column, target in mapping.items():
        expected = truth.get(column)
        if not expected:
            fp += 1
        elif expected == target:
            tp += 1
        else:
            fp += 1
            fn += 1
    if isinstance(truth, str):
        truth = json.loads(truth)
    fn += sum(1 for column in truth if not mapping.get(column))
    return float(np.round(2 * tp / (2 * tp + fp + fn), 2))


def join_mapping(text: str) -> dict:
    """The answer's mapping dict (None values dropped); {} when none can be read.

    Tried in the official order: the last `<solution>` block (recursively), the whole answer as
    a Python literal, then the last python/json/plain code block, the last box, or the whole
    answer with newlines removed and `null` read as None."""
    tags = re.findall(r"<solution>(.*?)</solution>", text, re.DOTALL)
    if tags:
        return join_mapping(tags[-1].strip())
    try:
        mapping = ast.literal_eval(text)
    except Exception:  # literal_eval raises many types on arbitrary text
        mapping = _literal_from_text(text)
        if mapping is None:
            return {}
    if not isinstance(mapping, dict):
        return {}
    return {key: value for key, value in mapping.items() if value is not None}


def _literal_from_text(text: str):
    flat = text.replace("\n", "")
    candidates = []
    for fence in ("```python", "```json", "```"):
        candidates = re.findall(f"{fence}(.*?)```", flat)
        if candidates:
            break
    if not candidates and "\\boxed" in text:
        boxed = last_boxed(flat)
        if boxed:
            candidates = [re.sub(r"\\text{['|\"](.*?)['|\"]}", r"'\1'", unbox(boxed)).replace("\\", "")]
    source = (candidates[-1] if candidates else text).replace("null", "None")
    try:
        return ast.literal_eval(source)
    except Exception:
        return None
