"""The sandbox contains hostile programs: each one below ends as a failure with a reason, leaves no
process behind, and cannot see the parent's secrets or write outside its work folder.

What is contained how depends on the machine (`containment()`): as root with namespaces (this
development machine) everything below is enforced; without root only the resource limits,
process-group kill, scrubbed environment and empty folder are, so the file-system and
/proc tests are skipped there (see rayeval/sandbox/runner.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from paths import PROJECT

from rayeval.sandbox import PYTHON, Job, Limits, containment, run_batch, run_sandboxed

QUICK = Limits(cpu_seconds=2, wall_seconds=3, memory_bytes=512 << 20, max_processes=16)


def python_job(code: str, limits: Limits = QUICK, **extra) -> Job:
    return Job(argv=(PYTHON, "-I", "-S", "-c", code), limits=limits, **extra)


def sandbox_processes() -> list[int]:
    """Processes still running as a sandbox user, or as our descendants."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{name}").st_uid
            stat = Path(f"/proc/{name}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if 61000 <= uid < 62000 or parent == me:
            found.append(int(name))
    return found


_BEFORE: set[int] = set()


@pytest.fixture(autouse=True)
def _processes_before_test():
    """Children this test process had before the test (e.g. a Ray left by an earlier test
    module in the same session) are not the sandbox's leftovers."""
    _BEFORE.clear()
    _BEFORE.update(sandbox_processes())
    yield


def assert_no_leftovers() -> None:
    for _ in range(50):
        if not set(sandbox_processes()) - _BEFORE:
            return
        time.sleep(0.05)
    assert sorted(set(sandbox_processes()) - _BEFORE) == []


def test_normal_program_passes_with_its_files_and_stdin():
    result = run_sandboxed(
        Job(
            argv=(PYTHON, "-I", "-S", "prog.py"),
            files={"prog.py": "import sys\nopen('out.txt', 'w').write(sys.stdin.read().upper())\nprint('done')"},
            stdin="hello",
            collect=("out.txt",),
            limits=QUICK,
        )
    )
    assert result.passed, result.reason
    assert result.stdout == b"done\n"
    assert result.files == {"out.txt": b"HELLO"}


def test_nonzero_exit_fails_with_the_error_line():
    result = run_sandboxed(python_job("raise SystemExit('bad input')"))
    assert (result.passed, result.status, result.returncode) == (False, "exit", 1)
    assert "bad input" in result.reason


def test_infinite_loop_is_stopped():
    result = run_sandboxed(python_job("while True:\n    pass"))
    assert not result.passed and result.status == "timeout", result.reason
    assert "limit" in result.reason
    assert_no_leftovers()


def test_fork_bomb_is_contained_and_cleaned_up():
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_sandboxed(python_job(code))
    assert not result.passed and result.status in ("timeout", "signal"), result.reason
    assert_no_leftovers()


def test_memory_hog_fails_with_memory_error():
    result = run_sandboxed(python_job("blocks = []\nwhile True:\n    blocks.append(bytearray(50 << 20))"))
    assert not result.passed and result.status == "exit"
    assert "MemoryError" in result.reason


def test_output_flood_is_cut_off():
    result = run_sandboxed(python_job("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)"))
    assert not result.passed and result.status == "output_limit"
    assert len(result.stdout) <= QUICK.output_bytes + 65536
    assert_no_leftovers()


def test_environment_secrets_are_not_inherited(monkeypatch):
    monkeypatch.setenv("RAYEVAL_TEST_SECRET", "hunter2")
    result = run_sandboxed(python_job("import os\nprint(sorted(os.environ))\nprint(os.environ.get('RAYEVAL_TEST_SECRET'))"))
    assert result.passed, result.reason
    assert b"hunter2" not in result.stdout
    assert result.stdout.splitlines()[-1] == b"None"
    assert b"RAYEVAL" not in result.stdout


@pytest.mark.skipif(containment() == "rlimits", reason="without root the program runs as our own user")
def test_parent_environment_cannot_be_read_through_proc(monkeypatch):
    monkeypatch.setenv("RAYEVAL_TEST_SECRET", "hunter2")
    code = f"print(open('/proc/{os.getpid()}/environ', 'rb').read())"
    result = run_sandboxed(python_job(code))
    assert not result.passed and "PermissionError" in result.reason
    assert b"hunter2" not in result.stdout


@pytest.mark.skipif(containment() == "rlimits", reason="without root the program runs as our own user")
def test_writes_outside_the_work_folder_are_refused_or_private(tmp_path):
    targets = [tmp_path / "escaped.txt", Path.home() / "rayeval-escaped.txt", PROJECT / "rayeval-escaped.txt"]
    code = "import sys\nfor path in sys.argv[1:]:\n    try:\n        open(path, 'w').write('x')\n        print('wrote', path)\n    except OSError as e:\n        print('refused', path, type(e).__name__)"
    result = run_sandboxed(Job(argv=(PYTHON, "-I", "-S", "-c", code, *map(str, targets)), limits=QUICK))
    assert result.passed, result.reason
    assert result.stdout.count(b"refused") == len(targets), result.stdout
    assert not any(path.exists() for path in targets)


@pytest.mark.skipif(containment() != "namespaces+uid", reason="needs the mount namespace")
def test_shared_tmp_writes_stay_private_and_parent_files_are_hidden(tmp_path):
    marker = Path("/tmp") / f"rayeval-sandbox-test-{os.getpid()}"
    code = f"import os\nopen({str(marker)!r}, 'w').write('x')\nprint(os.path.exists({str(tmp_path)!r}))"
    result = run_sandboxed(python_job(code))
    assert result.passed, result.reason
    assert result.stdout == b"False\n"  # the parent's temporary folders are not even visible
    assert not marker.exists()


@pytest.mark.skipif(containment() != "namespaces+uid", reason="needs the network namespace")
def test_no_network():
    code = "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"
    result = run_sandboxed(python_job(code))
    assert not result.passed and "unreachable" in result.reason.lower()


def test_batch_returns_results_in_job_order():
    jobs = [python_job(f"import time\ntime.sleep(0.{3 - i})\nprint({i})") for i in range(4)]
    results = run_batch(jobs, parallelism=4)
    assert [r.stdout for r in results] == [b"0\n", b"1\n", b"2\n", b"3\n"]
    assert_no_leftovers()


def test_rlimits_only_mode_still_limits_time_and_scrubs_the_environment(monkeypatch):
    """The mode used without root (forced here): no fork bomb test, as root is exempt from the
    process limit in this mode."""
    from rayeval.sandbox import runner

    monkeypatch.setattr(runner, "_MODE", "rlimits")
    monkeypatch.setenv("RAYEVAL_TEST_SECRET", "hunter2")
    ok = run_sandboxed(python_job("import os\nprint(os.environ.get('RAYEVAL_TEST_SECRET'), os.getcwd() == os.environ['HOME'])"))
    assert (ok.passed, ok.containment, ok.stdout) == (True, "rlimits", b"None True\n")
    loop = run_sandboxed(python_job("while True:\n    pass"))
    assert loop.status == "timeout"
    assert_no_leftovers()
