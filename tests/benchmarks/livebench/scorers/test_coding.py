"""LiveBench coding scorers (`LCB_generation`, `coding_completion`) on hand-made questions in the
official question format (fields of the `livebench/coding` dataset: JSON public tests, private
tests base64(zlib(pickle(JSON))), `original_json.metadata` naming the entry point), one rule each.
Expected verdicts follow from the official rules (LiveBench's LiveCodeBench runner, Aug 2025).
"""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from rayeval.benchmarks.livebench.scorers import coding
from rayeval.benchmarks.livebench.scorers.coding import extract_code, score_coding_completion, score_lcb_generation, verdict
from rayeval.sandbox import SandboxResult


def packed(tests: list[dict]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def coding_question(title: str, tests: list[tuple[str, str]], testtype: str, func_name: str | None, **extra) -> dict:
    """A row of the official coding data: the first test public, the others private (packed)."""
    cases = [{"input": given, "output": wanted, "testtype": testtype} for given, wanted in tests]
    metadata = json.dumps({"func_name": func_name} if func_name else {})
    question = {
        "question_id": f"hand-{title}",
        "category": "coding",
        "task": "LCB_generation",
        "turns": [f"Solve {title}."],
        "question_title": title,
        "public_test_cases": json.dumps(cases[:1]),
        "private_test_cases": packed(cases[1:]),
        "original_json": {"question_title": title, "starter_code": "", "metadata": metadata},
        "livebench_release_date": "2024-07-26",
    }
    question.update(extra)
    return question


def stdin_question(**extra) -> dict:
    """AtCoder style: sum the n numbers on the second line."""
    tests = [("3\n1 2 3\n", "6\n"), ("2\n5 5\n", "10\n"), ("1\n-7\n", "-7\n")]
    return coding_question("sum", tests, "stdin", None, **extra)


def functional_question(**extra) -> dict:
    """LeetCode style: Solution.scale(nums, k) multiplies every element by k."""
    tests = [("[1, 2, 3]\n2", "[2, 4, 6]"), ("[]\n5", "[]"), ("[-1]\n-3", "[3]")]
    return coding_question("scale", tests, "functional", "scale", **extra)


def fenced(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```\nIt runs in O(n)."


SUM = "n = int(input())\nprint(sum(map(int, input().split())))"


# --- extraction (pure) ---------------------------------------------------------------------


def test_extract_takes_the_last_fenced_block():
    answer = "```python\nwrong()\n```\nthen\n```\nright()\n```"
    assert extract_code(answer) == "right()"


def test_extract_without_fences():
    assert extract_code("`print(1)`") == "print(1)"
    assert extract_code("print(1)\nprint(2)\n```") == "print(1)\nprint(2)"
    assert extract_code("print(1)  \n\n") == "print(1)"


# --- standard-input tests --------------------------------------------------------------------

STDIN_RULES = {
    # rule: (program, expected score)
    "correct program passes public and compressed private tests": (SUM, 1),
    "failing only a private test scores 0": ("n = int(input())\nprint(abs(sum(map(int, input().split()))))", 0),
    "prelude imports, a main guard and exit() are accepted": (
        "import sys\ndef main():\n    q = deque(map(int, sys.stdin.read().split()[1:]))\n"
        "    print(sum(q))\n    exit()\nif __name__ == '__main__':\n    main()",
        1,
    ),
    "lines compare as decimals after stripping": ("n = int(input())\nprint('  %.3f  ' % sum(map(int, input().split())))\nprint()", 1),
    "top-level code runs inside a function, so `global` fails": (
        "total = 0\ndef add(x):\n    global total\n    total += x\nn = int(input())\n"
        "for v in input().split():\n    add(int(v))\nprint(total)",
        0,
    ),
    "stdin is a text stream without .buffer": ("import sys\nprint(sum(map(int, sys.stdin.buffer.read().split()[1:])))", 0),
    "open(0) reads the real, empty stdin (the prelude shadows the mocked open)": ("print(sum(map(int, open(0).read().split()[1:])))", 0),
    "numpy is importable (imported before the guard, as officially)": (
        "import numpy as np\nn = int(input())\nprint(int(np.array(input().split(), dtype=np.int64).sum()))",
        1,
    ),
    "only sys.stdout is captured": ("import os\nn = int(input())\nos.write(1, str(sum(map(int, input().split()))).encode())", 0),
}


@pytest.mark.parametrize("rule", list(STDIN_RULES))
def test_stdin_rules(rule):
    program, expected = STDIN_RULES[rule]
    assert score_lcb_generation(stdin_question(), fenced(program)) == expected


def test_time_limit_per_test(monkeypatch):
    monkeypatch.setattr(coding, "TEST_TIMEOUT_SECONDS", 1)
    assert score_lcb_generation(stdin_question(), fenced("while True:\n    pass")) == 0


# --- call-based tests ------------------------------------------------------------------------


def test_solution_method_returning_a_tuple_passes():
    code = "class Solution:\n    def scale(self, nums: List[int], k: int) -> List[int]:\n        return tuple(x * k for x in nums)"
    assert score_lcb_generation(functional_question(), fenced(code)) == 1


def test_wrong_or_missing_method_scores_zero():
    wrong = "class Solution:\n    def scale(self, nums, k):\n        return [x * k + 1 for x in nums]"
    missing = "class Solution:\n    def other(self, nums, k):\n        return nums"
    assert score_lcb_generation(functional_question(), fenced(wrong)) == 0
    assert score_lcb_generation(functional_question(), fenced(missing)) == 0


def test_completion_prepends_the_partial_solution_unless_repeated():
    partial = "class Solution:\n    def scale(self, nums: List[int], k: int) -> List[int]:"
    question = functional_question(task="coding_completion", partial_solution=partial)
    body = "        return [x * k for x in nums]"
    assert score_coding_completion(question, fenced(body)) == 1
    assert score_coding_completion(question, fenced(partial + "\n" + body)) == 1
    assert score_lcb_generation(functional_question(), fenced(body)) == 0  # no starter: syntax error


# --- hostile programs and sandbox failures ---------------------------------------------------


def test_hostile_programs_score_zero():
    for code in ("import os\nos.system('echo pwned')", "import os\nwhile True:\n    os.fork()", "x = bytearray(64 << 30)"):
        assert score_lcb_generation(stdin_question(), fenced(code)) == 0


def test_sandbox_failure_is_an_error_not_a_zero():
    failed = SandboxResult("sandbox_error", "rayeval-sandbox: setup failed", 125, b"", b"", {}, 0.1, "uid")
    with pytest.raises(RuntimeError, match="sandbox failed"):
        verdict(failed)


def test_unknown_test_format_is_an_error():
    question = stdin_question(public_test_cases=json.dumps([{"input": "1", "output": "1", "testtype": "weird"}]))
    with pytest.raises(ValueError, match="test case format"):
        score_lcb_generation(question, fenced(SUM))


def test_many_answers_are_scored_together_with_per_pair_errors():
    broken = stdin_question(private_test_cases="not base64 at all")
    outcomes = coding.score_coding_answers(
        [(stdin_question(), fenced(SUM)), (broken, fenced(SUM)), (functional_question(), fenced("print(1)"))]
    )
    assert outcomes[0] == 1.0 and outcomes[2] == 0.0
    assert isinstance(outcomes[1], Exception)
