"""Run one untrusted program in a sandbox and say how it ended.

Containment, strongest first (the first mode that works on this machine is used; `containment()`
names it):

- ``namespaces+uid`` (running as root with namespace support): the program runs as a throwaway
  unprivileged user in fresh mount/network/PID/IPC/UTS namespaces. It has no network; `/tmp`,
  `/var/tmp` and `/dev/shm` are replaced by empty private tmpfs folders and the parent's home by
  an empty read-only one (only its own work folder and the Python installation are bound back),
  so it can neither read the parent's private files nor leave files in shared folders; file
  permissions apply to everything else (it cannot write to root-owned folders such as the
  project); its whole process tree dies with it (PID namespace). `/proc` still lists the
  machine's processes, but a different user cannot read their environment or signal them.
- ``uid`` (root without namespace support): the same user switch without namespaces; anything
  the user leaves running is killed by scanning `/proc`. World-writable folders stay writable.
- ``rlimits`` (not root): resource limits, a new session, a scrubbed environment and an empty
  folder only; whatever the program leaves running is killed by the launcher, its child
  subreaper (see `_launch`). The program runs as the caller's user, so it can write wherever the
  caller can, reach the network and read the environment of the caller's processes in `/proc`;
  the process limit counts all of the caller's processes.

In every mode: CPU-time, address-space, file-size, open-file and process-count limits; a wall
clock limit after which the whole process group is killed; output beyond `output_bytes` kills the
program; the environment holds only `PATH`, `HOME` (the work folder), `TMPDIR`, `LANG`; the work
folder is a fresh empty temporary folder holding only the job's files, deleted afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rayeval.sandbox import _launch

PYTHON = sys.executable
"""The interpreter a job should name to run Python (the one rayeval runs on, with its packages)."""

_STOP_GRACE_SECONDS = 5.0
"""How long the launcher gets to kill a stopped program's process tree (milliseconds even for a
fork bomb at the process limit) before its process group is killed outright."""
_UID_BASE = 61000
_UID_SLOTS = 1000
_MODES_AS_ROOT = ("namespaces+uid", "uid")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run."""

    cpu_seconds: float = 10.0
    wall_seconds: float = 20.0
    memory_bytes: int = 4 << 30
    """Address-space limit (virtual memory: set well above the resident size a program needs)."""
    output_bytes: int = 8 << 20
    """Cap on captured stdout and stderr together."""
    file_bytes: int = 64 << 20
    """Largest file the program may write (also the size of each private tmpfs)."""
    max_processes: int = 32
    """Processes and threads of the sandbox user (in ``rlimits`` mode: added to the caller's count)."""
    open_files: int = 256


@dataclass(frozen=True)
class Job:
    """A program to run: `argv` (argv[0] an absolute path), `files` written into its empty work
    folder first, `stdin` fed from a file, and `collect` files read back after it ends."""

    argv: tuple[str, ...]
    files: dict[str, bytes | str] = field(default_factory=dict)
    stdin: bytes | str | None = None
    limits: Limits = Limits()
    collect: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxResult:
    """How a run ended. `status`: ``ok`` (exit 0), ``exit`` (non-zero), ``signal``, ``timeout``
    (wall or CPU limit), ``output_limit``, or ``sandbox_error`` (the sandbox itself failed: not the
    program's fault). `reason` says it in words."""

    status: str
    reason: str
    returncode: int | None
    stdout: bytes
    stderr: bytes
    files: dict[str, bytes]
    wall_seconds: float
    containment: str

    @property
    def passed(self) -> bool:
        return self.status == "ok"


def run_sandboxed(job: Job) -> SandboxResult:
    """Run `job` in the sandbox (blocking; safe to call from several threads at once)."""
    return _run_in_mode(job, containment())


def _run_in_mode(job: Job, mode: str) -> SandboxResult:
    with _sandbox_user(mode) as uid, tempfile.TemporaryDirectory(prefix="rayeval-sandbox-") as base:
        workdir = Path(base) / "work"
        workdir.mkdir()
        _write_files(workdir, job.files, uid)
        spec_path = Path(base) / "spec.json"
        spec_path.write_text(json.dumps(_spec(job, mode, uid, workdir)))
        spec_path.chmod(0o600)
        stdin_path = Path(base) / "stdin"
        stdin_path.write_bytes(_as_bytes(job.stdin or b""))
        result = _run(job, spec_path, stdin_path, mode)
        if uid is not None and mode == "uid":
            _kill_user_processes(uid)
        files = {name: (workdir / name).read_bytes() for name in job.collect if (workdir / name).is_file()}
        return _with_files(result, files)


def containment() -> str:
    """The containment mode used on this machine (probed once, see the module docstring)."""
    global _MODE
    if _MODE is None:
        _MODE = _probe_mode()
    return _MODE


_MODE: str | None = None


def _probe_mode() -> str:
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return "rlimits"
    probe = Job(argv=(PYTHON, "-I", "-S", "-c", "pass"), limits=Limits(cpu_seconds=5, wall_seconds=15))
    for mode in _MODES_AS_ROOT:
        if _run_in_mode(probe, mode).passed:
            return mode
    return "rlimits"


def _spec(job: Job, mode: str, uid: int | None, workdir: Path) -> dict:
    limits = job.limits
    nproc = limits.max_processes if uid is not None else _own_process_count() + limits.max_processes
    home = os.path.expanduser("~")
    expose = sorted({str(workdir), sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(PYTHON))})
    return {
        "argv": list(job.argv),
        "env": {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        "workdir": str(workdir),
        "uid": uid,
        "namespaces": mode == "namespaces+uid",
        "hide": [p for p in (*_launch.SCRATCH_FOLDERS, home) if p not in ("", "/")],
        "expose": expose,
        "limits": {
            "cpu_seconds": max(1, int(limits.cpu_seconds + 0.999)),
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "open_files": limits.open_files,
            "nproc": nproc,
        },
    }


def _run(job: Job, spec_path: Path, stdin_path: Path, mode: str) -> SandboxResult:
    argv = [PYTHON, "-I", "-S", _launch.__file__, str(spec_path)]
    started = time.monotonic()
    with open(stdin_path, "rb") as stdin:
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True, env={}
        )
    stdout, stderr, stopped = _collect_output(proc, started + job.limits.wall_seconds, job.limits.output_bytes)
    if stopped:
        _stop(proc)
    returncode = proc.wait()
    wall = time.monotonic() - started
    status, reason = _verdict(stopped, returncode, stderr, job.limits, wall)
    return SandboxResult(status, reason, returncode, stdout, stderr, {}, wall, mode)


def _collect_output(proc: subprocess.Popen, deadline: float, cap: int) -> tuple[bytes, bytes, str | None]:
    """Read stdout/stderr until both close; stop early ("timeout"/"output_limit") past the limits."""
    assert proc.stdout is not None and proc.stderr is not None, "started with stdout and stderr pipes"
    chunks: dict[int, list[bytes]] = {1: [], 2: []}
    total = 0
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, 1)
        selector.register(proc.stderr, selectors.EVENT_READ, 2)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(chunks[1]), b"".join(chunks[2]), "timeout"
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                chunks[key.data].append(data)
                total += len(data)
                if total > cap:
                    return b"".join(chunks[1]), b"".join(chunks[2]), "output_limit"
    proc.stdout.close()
    proc.stderr.close()
    return b"".join(chunks[1]), b"".join(chunks[2]), None


def _verdict(stopped: str | None, returncode: int, stderr: bytes, limits: Limits, wall: float) -> tuple[str, str]:
    if stopped == "timeout":
        return "timeout", f"wall-time limit of {limits.wall_seconds:g} s exceeded"
    if stopped == "output_limit":
        return "output_limit", f"output exceeded {limits.output_bytes} bytes"
    if returncode == _launch.SETUP_FAILED and _launch.MARK.encode() in stderr:
        line = next(line for line in stderr.decode(errors="replace").splitlines() if _launch.MARK in line)
        return "sandbox_error", line
    if returncode == 0:
        return "ok", "exited normally"
    if returncode < 0:
        sig = -returncode
        if sig in (signal.SIGXCPU, signal.SIGKILL) and wall >= limits.cpu_seconds * 0.5:
            return "timeout", f"CPU-time limit of {limits.cpu_seconds:g} s exceeded ({signal.Signals(sig).name})"
        return "signal", f"killed by {signal.Signals(sig).name}"
    tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return "exit", f"exit code {returncode}: {tail[0][:300]}"


def _with_files(result: SandboxResult, files: dict[str, bytes]) -> SandboxResult:
    return SandboxResult(
        result.status, result.reason, result.returncode, result.stdout, result.stderr, files, result.wall_seconds, result.containment
    )


def _stop(proc: subprocess.Popen) -> None:
    """Ask the launcher to kill the program and everything it started (SIGTERM: see
    `_launch`), then kill the launcher's process group in case it could not."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=_STOP_GRACE_SECONDS)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _write_files(workdir: Path, files: dict[str, bytes | str], uid: int | None) -> None:
    for name, content in files.items():
        path = workdir / name
        if path.resolve().parent != workdir.resolve():
            raise ValueError(f"sandbox file name must be a plain name: {name!r}")
        path.write_bytes(_as_bytes(content))
    if uid is not None:
        for path in [workdir, *workdir.iterdir()]:
            os.chown(path, uid, uid)
        os.chmod(workdir.parent, 0o711)


def _as_bytes(content: bytes | str) -> bytes:
    return content.encode() if isinstance(content, str) else content


@contextmanager
def _sandbox_user(mode: str) -> Iterator[int | None]:
    """A uid no other sandbox run uses meanwhile (a lock file per uid), or None when not root.
    Distinct users keep concurrent runs' process limits and clean-ups apart."""
    if mode == "rlimits":
        yield None
        return
    lock_dir = Path(tempfile.gettempdir()) / "rayeval-sandbox-uids"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    start = random.randrange(_UID_SLOTS)
    for step in range(_UID_SLOTS):
        uid = _UID_BASE + (start + step) % _UID_SLOTS
        handle = open(lock_dir / str(uid), "a")  # noqa: SIM115 (the lock is held while the caller runs)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield uid
        finally:
            handle.close()
        return
    raise RuntimeError("no free sandbox user id (too many concurrent sandbox runs)")


def _kill_user_processes(uid: int) -> None:
    """Kill every process of `uid` (the ``uid`` mode's clean-up), until none is left."""
    for _ in range(50):
        pids = [pid for pid in _pids() if _owner(pid) == uid]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


def _own_process_count() -> int:
    """Processes (threads included, as RLIMIT_NPROC counts them) of the current user."""
    uid = os.getuid()
    count = 0
    for pid in _pids():
        if _owner(pid) == uid:
            try:
                count += len(os.listdir(f"/proc/{pid}/task"))
            except FileNotFoundError:
                pass
    return count
