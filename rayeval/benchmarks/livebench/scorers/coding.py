"""LiveBench coding tasks (`LCB_generation`, `coding_completion`): run the answer's program on the
question's public and private tests in the sandbox; 1 if every test passes, else 0 (pass@1).

Rules (official scorer as of Aug 2025, unchanged upstream since for these two tasks):

- The program is the text between the last two lines containing a code fence; with fewer than
  two fence lines: an answer wrapped in single backticks loses them, a lone fence on the last line
  is dropped, otherwise the whole answer (right-stripped) is the program.
- `coding_completion`: when the question has a non-empty `partial_solution` that the program does
  not start with, the program is ``partial_solution + "\\n" + program``.
- Tests: `public_test_cases` is a JSON list of ``{"input", "output", "testtype"}``;
  `private_test_cases` is the same JSON, or (in the released data) base64 of zlib of a pickled
  JSON string. Public tests run first. The entry point is ``func_name`` of the JSON string
  ``original_json["metadata"]``: present means call-based tests, absent means standard input.
- 6-second alarm per test; the whole run gets ``7 × tests + 5`` seconds. The in-sandbox runner
  (`lcb_harness`) reproduces how the official runner executes and compares.

A run that fails for the sandbox's own reasons raises (recorded as a scoring error, not a 0).
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from collections.abc import Sequence
from pathlib import Path

from rayeval.sandbox import PYTHON, Job, Limits, SandboxResult, run_batch, run_sandboxed

TEST_TIMEOUT_SECONDS = 6
_HARNESS = Path(__file__).with_name("lcb_harness.py")
_TEST_TYPES = ("stdin", "functional")


def score_lcb_generation(question: dict, llm_answer: str) -> float:
    """Score one coding answer (both coding tasks share the rule)."""
    return verdict(run_sandboxed(coding_job(question, llm_answer)))


score_coding_completion = score_lcb_generation


def score_coding_answers(pairs: Sequence[tuple[dict, str]]) -> list[float | Exception]:
    """Score many ``(question, answer)`` pairs with the programs running in parallel (Ray tasks
    when Ray is up, else local processes); a pair that cannot be scored gets its exception."""
    outcomes: list[float | Exception | None] = [None] * len(pairs)
    jobs: list[tuple[int, Job]] = []
    for index, (question, answer) in enumerate(pairs):
        try:
            jobs.append((index, coding_job(question, answer)))
        except Exception as error:  # malformed question: recorded for that pair only
            outcomes[index] = error
    for (index, _), result in zip(jobs, run_batch([job for _, job in jobs])):
        try:
            outcomes[index] = verdict(result)
        except Exception as error:
            outcomes[index] = error
    return outcomes  # type: ignore[return-value]


def coding_job(question: dict, llm_answer: str) -> Job:
    """The sandbox job that tests `llm_answer` on `question` (run many with `rayeval.sandbox.run_batch`)."""
    program = extract_code(llm_answer)
    partial = question.get("partial_solution")
    if partial and not program.startswith(partial):
        program = partial + "\n" + program
    tests = _load_tests(question["public_test_cases"]) + _load_tests(question["private_test_cases"])
    fn_name = json.loads(question["original_json"]["metadata"]).get("func_name")
    job = {
        "code": program,
        "fn_name": fn_name,
        "timeout": TEST_TIMEOUT_SECONDS,
        "inputs": [t["input"] for t in tests],
        "outputs": [t["output"] for t in tests],
    }
    wall = (TEST_TIMEOUT_SECONDS + 1) * len(tests) + 5
    return Job(
        argv=(PYTHON, "-I", "lcb_harness.py"),
        files={"lcb_harness.py": _HARNESS.read_bytes(), "job.json": json.dumps(job)},
        limits=Limits(cpu_seconds=wall, wall_seconds=wall),
        collect=("result.json",),
    )


def verdict(result: SandboxResult) -> float:
    """1.0 if the harness reported every test passed; 0.0 for any failure of the program."""
    if result.status == "sandbox_error":
        raise RuntimeError(f"sandbox failed: {result.reason}")
    report = result.files.get("result.json")
    if not result.passed or not report:
        return 0.0
    return 1.0 if all(r is True for r in json.loads(report)["results"]) else 0.0


def extract_code(answer: str) -> str:
    """The program in a model answer, by the official fence rule (see the module docstring)."""
    lines = answer.rstrip().split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) >= 2:
        return "\n".join(lines[fences[-2] + 1 : fences[-1]])
    if len(answer) > 1 and answer[0] == "`" and answer[-1] == "`":
        return answer[1:-1]
    if len(fences) == 1 and fences[0] == len(lines) - 1:
        return "\n".join(lines[:-1])
    return answer.rstrip()


def _load_tests(text: str) -> list[dict]:
    try:
        tests = json.loads(text)
    except json.JSONDecodeError:
        tests = json.loads(_StringOnlyUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(text)))).load())
    for test in tests:
        if set(test) != {"input", "output", "testtype"} or test["testtype"] not in _TEST_TYPES:
            raise ValueError(f"unexpected test case format: {sorted(test)} {test.get('testtype')!r}")
    return tests


class _StringOnlyUnpickler(pickle.Unpickler):
    """The compressed tests are a pickled JSON string: refuse anything that needs a class."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"test data may not reference {module}.{name}")
