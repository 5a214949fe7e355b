"""Hostile programs beyond tests/sandbox/test_runner.py: a daemon child left behind (in every
containment mode this machine can run), sockets, and a batch of hostile LiveBench coding answers
that the scorer must finish with the honest answers scored. Real processes, real sockets, the real
coding scorer; as root with namespaces here (`containment()`), plus the ``rlimits`` mode forced as
it runs without root.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time

import pytest

from rayeval.sandbox import PYTHON, Job, Limits, containment, run_sandboxed

QUICK = Limits(cpu_seconds=2, wall_seconds=3, memory_bytes=512 << 20, max_processes=16)
MODES = sorted({containment(), "rlimits"})


def daemon_code(token: str, keep_output: bool) -> str:
    """Leave a daemon behind: fork, leave the session (out of reach of a process-group kill),
    fork again, sleep. With `keep_output` the daemon holds stdout open and the program then spins
    until the wall-clock limit; otherwise the daemon closes its files and the program exits at once."""
    closing = "" if keep_output else "    for fd in (0, 1, 2):\n        os.close(fd)\n"
    tail = "while True:\n    pass\n" if keep_output else "time.sleep(0.3)\n"
    return (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork():\n"
        "        os._exit(0)\n"
        f"{closing}"
        f"    sys.argv.append({token!r})\n"
        "    time.sleep(120)\n"
        "    os._exit(0)\n"
        f"{tail}"
    )


def processes_mentioning(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    if token.encode() in handle.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("keep_output", [False, True], ids=["detached", "holding-stdout"])
@pytest.mark.parametrize("mode", MODES)
def test_a_daemon_child_dies_with_its_program(mode: str, keep_output: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from rayeval.sandbox import runner

    monkeypatch.setattr(runner, "_MODE", mode)
    token = f"rayeval-daemon-{secrets.token_hex(6)}"
    result = run_sandboxed(Job(argv=(PYTHON, "-I", "-S", "-c", daemon_code(token, keep_output), token), limits=QUICK))
    assert result.status == ("timeout" if keep_output else "ok"), result.reason
    assert result.wall_seconds < QUICK.wall_seconds + 3
    for _ in range(40):
        if not processes_mentioning(token):
            break
        time.sleep(0.05)
    left = processes_mentioning(token)
    for pid in left:  # never leave one running on a shared machine, even when the test fails
        os.kill(pid, 9)
    assert left == []


@pytest.mark.skipif(containment() != "namespaces+uid", reason="needs the network namespace; without root the program has our network")
def test_sockets_reach_nothing_outside() -> None:
    """A server listening on this machine's loopback is out of reach, and listening does nothing
    anyone outside could connect to."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        port = server.getsockname()[1]
        code = (
            "import socket, sys\n"
            "out = []\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    out.append('connected')\n"
            "except OSError as e:\n    out.append(type(e).__name__)\n"
            "try:\n    s = socket.create_server(('0.0.0.0', 0))\n    out.append('listening')\n"
            "except OSError as e:\n    out.append(type(e).__name__)\n"
            "print(' '.join(out))\n"
        )
        result = run_sandboxed(Job(argv=(PYTHON, "-I", "-S", "-c", code), limits=QUICK))
        with pytest.raises(TimeoutError):
            server.accept()
    assert result.passed, result.reason
    assert not result.stdout.startswith(b"connected"), result.stdout


def test_the_coding_scorer_finishes_honest_answers_beside_hostile_ones() -> None:
    """One batch of LiveBench coding answers: the honest ones score 1, every hostile one 0 (none
    escapes its limits and fails the batch), nothing is written outside and no process is left.
    (That a program sees no secret of ours is tests/sandbox/test_runner.py's.)"""
    from rayeval.benchmarks.livebench.scorers.coding import score_coding_answers

    token = f"rayeval-daemon-{secrets.token_hex(6)}"
    honest = "n = int(input())\nprint(sum(map(int, input().split())))"
    hostile = {
        "infinite loop": "while True:\n    pass",
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "memory hog": "x = bytearray(64 << 30)",
        "reads secrets": "import os\nprint(open(f'/proc/{os.getppid()}/environ').read(), dict(os.environ))",
        "writes outside": "open('/etc/rayeval-escaped', 'w').write('x')\nprint(6)",
        "opens a socket": "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\nprint(6)",
        "leaves a daemon": daemon_code(token, keep_output=False).replace("time.sleep(0.3)", "print(6)"),
    }
    question = stdin_question()
    answers = [honest, *hostile.values(), honest]
    started = time.monotonic()
    scores = score_coding_answers([(question, f"```python\n{code}\n```") for code in answers])
    assert scores == [1.0] + [0.0] * len(hostile) + [1.0], dict(zip(["honest", *hostile, "honest"], scores))
    assert time.monotonic() - started < 60
    assert not os.path.exists("/etc/rayeval-escaped")
    assert processes_mentioning(token) == []


def stdin_question() -> dict:
    """A question in the official coding format (tests public and plain JSON): sum the numbers."""
    tests = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}, {"input": "2\n5 5\n", "output": "10\n", "testtype": "stdin"}]
    return {
        "question_id": "hand-sum",
        "public_test_cases": json.dumps(tests[:1]),
        "private_test_cases": json.dumps(tests[1:]),
        "original_json": {"metadata": json.dumps({})},
    }
