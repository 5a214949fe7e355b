"""The package's import graph has no cycles, and the command line's help imports nothing heavy.

Every import counts, also those inside functions (the lazy imports that keep `rayeval --help`
fast), except those under `if TYPE_CHECKING:`; importing `a.b.c` also runs the packages `a` and
`a.b`, so those are edges too (except a module's own enclosing packages, which are already
running when it is imported). A cycle means two modules cannot be understood (or imported)
without each other: the fix is to move what both need into a third module below them.

`rayeval --help` answers in well under 0.5 s (bench/bench_startup.py measures it) because it
imports only typer, pydantic and rayeval's light modules: the test below runs the help of every
command in a fresh interpreter and names every heavy module it finds imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rayeval"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The rayeval modules and packages that importing `path` runs, directly."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    own_packages = {".".join(me.split(".")[:i]) for i in range(1, len(me.split(".")))}
    found: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in modules)
    found -= own_packages | {me}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def import_graph() -> dict[str, set[str]]:
    files = [p for p in PACKAGE.rglob("*.py") if "packaged_data" not in p.parts]
    modules = {module_name(p) for p in files}
    return {module_name(p): imported_modules(p, modules) for p in files}


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_sees_a_cycle() -> None:
    """The checker itself: a cycle through a lazy import inside a function is found."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    graph = import_graph()
    assert "rayeval.benchmarks.ifeval.scoring" in graph["rayeval.benchmarks.ifeval.spec"], "lazy imports must count"
    assert "rayeval.benchmarks" in graph["rayeval.plan"], "parent packages must count"


LAZY_AT_HELP = {
    "rich": "~50 ms; consoles are made on first output (rayeval.cli.out/err)",
    "typer.rich_utils": "~0.2 s: rich help imports Markdown, syntax and traceback renderers (rayeval.cli_options.PanelledCommand)",
    "markdown_it": "imported by typer's rich help",
    "pygments": "imported by typer's rich help",
    "yaml": "only config and run files need it",
    "ray": "seconds; only a command that runs work needs it",
    "vllm": "~6 s",
    "torch": "seconds",
    "transformers": "seconds",
    "pandas": "~0.5 s; the scorers import it",
    "numpy": "the scorers import it",
    "httpx": "the judge and API engines import it",
    "openai": "the judge and API engines import it",
}
"""Modules the help of any command must not import, and what importing them would cost."""

HELP_RUN = """
import contextlib, io, json, sys
from rayeval.cli import app
for args in (["--help"], ["generate", "--help"], ["sweep", "--help"], ["run", "--help"], ["evaluate", "--help"],
             ["report", "--help"], ["data", "pull", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        try:
            app(args)
        except SystemExit:
            pass
    assert "Usage: " in shown.getvalue(), args
from rayeval.settings import option_sections
built = sorted(name for name, model in option_sections().items() if model.__pydantic_complete__)
print(json.dumps({"modules": sorted(sys.modules), "built": built}))
"""


def test_help_imports_no_heavy_module_and_builds_no_validator() -> None:
    """Every command's --help, in a fresh interpreter: none of `LAZY_AT_HELP` is imported, and no
    options model has built its validator (they are built on first use: `defer_build`)."""
    done = subprocess.run([sys.executable, "-c", HELP_RUN], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    imported = {name: why for name, why in LAZY_AT_HELP.items() if any(m == name or m.startswith(name + ".") for m in seen["modules"])}
    assert not imported, f"--help imports heavy modules: {imported}"
    assert seen["built"] == [], f"--help built the validators of {seen['built']}"
