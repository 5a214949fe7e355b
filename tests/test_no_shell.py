"""No shell anywhere in the package: every program rayeval starts (the sandbox launcher, the
in-cluster judge's vLLM server) is started from an argument list, so nothing derived from input
(a model path, a judge model name, an answer) can ever be read by a shell.

The scan reads the syntax tree of every module (calls, not text: the LiveBench harness may
assign `os.system = None` in its reliability guard); the scanner itself is checked on snippets
that must be caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from paths import PROJECT

SHELL_FUNCTIONS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}
"""Functions that always hand their command to a shell."""
PROCESS_FUNCTIONS = {"run", "Popen", "call", "check_call", "check_output", "create_subprocess_exec"}
"""Functions that start a program: their command must be a list built from parts, never one string."""


def _dotted(node: ast.expr) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def _string_built(node: ast.expr) -> bool:
    """Whether `node` builds one command string (literal, f-string, concatenation, % or
    .format(...), " ".join(...))."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _string_built(node.left) or _string_built(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"format", "join"}:
        return isinstance(node.func.value, (ast.Constant, ast.JoinedStr))
    return False


def shell_uses(source: str) -> list[str]:
    """Each shell use in `source`, as `line: what`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                found.append(f"{node.lineno}: shell=")
        name = _dotted(node.func)
        if name in SHELL_FUNCTIONS:
            found.append(f"{node.lineno}: {'.'.join(name)}")
        called = name[1] if name else node.func.id if isinstance(node.func, ast.Name) else None
        if called in PROCESS_FUNCTIONS and node.args and _string_built(node.args[0]):
            found.append(f"{node.lineno}: {called} with a command string")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "import subprocess\nsubprocess.run(cmd, shell=True)",
        "import subprocess\nsubprocess.Popen(cmd, shell=flag)",
        "import os\nos.system('ls ' + path)",
        "import os\nos.popen(f'cat {path}')",
        "import subprocess\nsubprocess.check_output(f'vllm serve {model}')",
        "import subprocess\nsubprocess.run('vllm serve ' + model)",
        "import subprocess\nsubprocess.call(' '.join(parts))",
        "from subprocess import Popen\nPopen('vllm serve %s' % model)",
        "import asyncio\nasyncio.create_subprocess_shell(cmd)",
    ],
)
def test_the_scanner_catches_shell_uses(snippet: str) -> None:
    assert shell_uses(snippet), snippet


def test_the_scanner_lets_argument_lists_and_guards_pass() -> None:
    allowed = "import os, subprocess\nsubprocess.run([exe, '-m', name], shell=False)\nsubprocess.Popen(argv)\nos.system = None\n"
    assert shell_uses(allowed) == []


def test_the_package_starts_no_shell() -> None:
    modules = sorted((PROJECT / "rayeval").rglob("*.py"))
    assert len(modules) > 50, "the scan did not find the package"
    found = [f"{path.relative_to(PROJECT)}:{use}" for path in modules for use in shell_uses(path.read_text(encoding="utf-8"))]
    assert found == []


def test_scripts_and_benchmarks_start_no_shell() -> None:
    """The helper scripts and the benchmark scripts ship in the repository too."""
    modules = [path for folder in ("scripts", "bench") for path in sorted((PROJECT / folder).rglob("*.py"))]
    found = [f"{Path(path).relative_to(PROJECT)}:{use}" for path in modules for use in shell_uses(path.read_text(encoding="utf-8"))]
    assert found == []
