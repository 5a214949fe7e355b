"""Test runner executed INSIDE the sandbox for LiveBench's LiveCodeBench-style coding tasks.

Run as ``python -I lcb_harness.py`` in a work folder holding ``job.json``
(``{"code", "fn_name", "inputs", "outputs", "timeout"}``); writes ``result.json``
(``{"results": [...]}``: per test ``true`` or a failure code -2 wrong answer, -3 time limit,
-4 runtime error, stopping at the first failure like the official runner).

It reproduces the official grading semantics (LiveBench's copy of the LiveCodeBench runner, Aug
2025), because they decide verdicts: the program runs inside this process, not as a script.

- A fixed prelude of star-imports (string, re, datetime, collections, heapq, bisect, copy, math,
  random, statistics, itertools, functools, operator, io, sys, json, builtins, typing, plus the
  plain module imports and ``sys.setrecursionlimit(50000)``) is prepended, so a program that
  forgot ``from collections import deque`` still runs.
- Call-based tests (a function name is given): the prelude and code are executed as a module; if
  the text contains ``class Solution`` the method is taken from a ``Solution()`` instance. Each
  input line is one JSON argument; the result (a tuple read as a list) must ``==`` the JSON
  output.
- Standard-input tests: a trailing ``if __name__ == '__main__':`` block is inlined, then every
  top-level statement except imports is wrapped into one function that is called per test with
  ``sys.stdin`` a fresh ``StringIO`` of the input, ``open`` mocked to read the input and stdout
  captured; ``SystemExit`` ends the program normally. Outputs match when, after stripping the
  text and each line, the line counts agree and each line is equal or all its whitespace-split
  fields are equal as `Decimal`s.
- Each compilation and each test has a ``timeout``-second wall-clock alarm; integers may print
  with up to 50000 digits; the same process-altering functions are disabled as officially
  (``os.system``, ``os.fork``, ``subprocess.Popen``, ``shutil.rmtree``, ...), which the
  official runner calls its "reliability guard" (not a security boundary: the sandbox is);
  numpy and pandas are imported before the guard, as they are in the official judging process.

Standard library only (it runs before any rayeval import is possible).
"""

import ast
import builtins
import importlib
import io
import json
import signal
import sys
from decimal import Decimal, InvalidOperation
from types import ModuleType

PRELUDE_MODULES = (
    "string",
    "re",
    "datetime",
    "collections",
    "heapq",
    "bisect",
    "copy",
    "math",
    "random",
    "statistics",
    "itertools",
    "functools",
    "operator",
    "io",
    "sys",
    "json",
)
PRELUDE = (
    "".join(f"from {name} import *\n" for name in PRELUDE_MODULES + ("builtins", "typing"))
    + "".join(f"import {name}\n" for name in PRELUDE_MODULES)
    + "sys.setrecursionlimit(50000)\n"
)

WRONG_ANSWER, TIME_LIMIT, RUNTIME_ERROR = -2, -3, -4

PRELOADED = ("numpy", "pandas")
"""Modules the official judging process has imported before it runs a program (its test runner
imports numpy, its instruction-following scorer pandas), so a program's import of them is a mere
lookup there; imported fresh after the guard they fail (numpy's import sets environment variables).
Imported here only when the program mentions them, to keep start-up fast."""


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout


def _compile(code: str, timeout: int):
    """Execute `code` as a fresh module; the object to take the entry point from."""
    signal.alarm(timeout)
    try:
        module = ModuleType("tmp_sol", "")
        exec(code, module.__dict__)
        return module.Solution() if "class Solution" in code else module
    finally:
        signal.alarm(0)


def _failure(error: BaseException) -> int:
    return TIME_LIMIT if isinstance(error, _Timeout) else RUNTIME_ERROR


def grade_call_based(code: str, fn_name: str, inputs: list, outputs: list, timeout: int) -> list:
    method = getattr(_compile(PRELUDE + "\n\n" + code, timeout), fn_name)
    arguments = [[json.loads(line) for line in text.split("\n")] for text in inputs]
    expected = [json.loads(text) for text in outputs]
    results = []
    for args, want in zip(arguments, expected):
        signal.alarm(timeout)
        try:
            got = method(*args)
            signal.alarm(0)
            if isinstance(got, tuple):
                got = list(got)
            passed = bool(got == want)  # an array-valued comparison raises here: a runtime error
            results.append(passed)
            if not passed:
                return results
        except Exception as error:  # the program's own failure; SystemExit is not caught (fails the run)
            results.append(_failure(error))
            return results
        finally:
            signal.alarm(0)
    return results


def inline_main_guard(code: str) -> str:
    """Inline a final ``if __name__ == '__main__':`` block into the module body."""
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:  # unparsable code is left as it is (it then fails to compile)
        pass
    return code


def wrap_in_function(code: str) -> str:
    """Prelude + the code's top-level imports + every other statement inside `wrapped_function()`."""
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        function = ast.FunctionDef(
            name="wrapped_function",
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=others,
            decorator_list=[],
            lineno=-1,
        )
        return PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(function)
    except Exception:
        return code


def _run_with_stdin(function, text: str) -> str:
    """Call `function` with stdin (and `open`, as the official harness's `mock_open`: any file
    opened reads `text`, writes go nowhere) reading `text`; return what it printed."""
    captured = io.StringIO()
    saved = (sys.stdout, sys.stdin, builtins.open)
    sys.stdout, sys.stdin = captured, io.StringIO(text)
    builtins.open = lambda *args, **kwargs: io.StringIO(text)
    try:
        function()
    except SystemExit:
        pass
    finally:
        sys.stdout, sys.stdin, builtins.open = saved
    return captured.getvalue()


def _stripped_lines(text: str) -> list:
    return [line.strip() for line in text.strip().split("\n")]


def _as_decimals(line: str):
    try:
        return [Decimal(field) for field in line.split()]
    except (InvalidOperation, ValueError):
        return None


def outputs_match(got: str, want: str) -> bool:
    got_lines, want_lines = _stripped_lines(got), _stripped_lines(want)
    if len(got_lines) != len(want_lines):
        return False
    for got_line, want_line in zip(got_lines, want_lines):
        if got_line == want_line:
            continue
        got_numbers, want_numbers = _as_decimals(got_line), _as_decimals(want_line)
        if got_numbers is None or want_numbers is None or got_numbers != want_numbers:
            return False
    return True


def grade_stdio(code: str, inputs: list, outputs: list, timeout: int) -> list:
    program = _compile(wrap_in_function(inline_main_guard(code)), timeout).wrapped_function
    results = []
    for text, want in zip(inputs, outputs):
        signal.alarm(timeout)
        try:
            got = _run_with_stdin(program, text)
        except Exception as error:
            results.append(_failure(error))
            return results
        finally:
            signal.alarm(0)
        if not outputs_match(got, want):
            results.append(WRONG_ANSWER)
            return results
        results.append(True)
    return results


def _disable_process_functions() -> None:
    """The official runner's guard: disable functions that alter the process or the files."""
    import os
    import shutil
    import subprocess

    os.environ["OMP_NUM_THREADS"] = "1"
    for name in (
        "kill",
        "system",
        "putenv",
        "remove",
        "removedirs",
        "rmdir",
        "fchdir",
        "setuid",
        "fork",
        "forkpty",
        "killpg",
        "rename",
        "renames",
        "truncate",
        "replace",
        "unlink",
        "fchmod",
        "fchown",
        "chmod",
        "chown",
        "chroot",
        "lchflags",
        "lchmod",
        "lchown",
        "getcwd",
        "chdir",
    ):
        setattr(os, name, None)
    for name in ("rmtree", "move", "chown"):
        setattr(shutil, name, None)
    subprocess.Popen = None
    builtins.quit = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def main() -> None:
    with open("job.json") as handle:
        job = json.load(handle)
    report = open("result.json", "w")  # noqa: SIM115 (written to until the process ends)
    for name in PRELOADED:
        if name in job["code"]:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    sys.set_int_max_str_digits(50000)
    signal.signal(signal.SIGALRM, _on_alarm)
    _disable_process_functions()
    try:
        if job["fn_name"] is None:
            results = grade_stdio(job["code"], job["inputs"], job["outputs"], job["timeout"])
        else:
            results = grade_call_based(job["code"], job["fn_name"], job["inputs"], job["outputs"], job["timeout"])
    except Exception as error:  # compilation failed, entry point missing, bad test data
        results = [_failure(error)]
    report.write(json.dumps({"results": results}))
    report.close()


if __name__ == "__main__":
    main()
