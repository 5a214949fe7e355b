"""Child-side launcher of the sandbox: sets up the confinement, then execs the program.

Run as ``python -I -S _launch.py <spec.json>`` by `rayeval.sandbox.runner` in a fresh session.
It is a separate script, not a ``preexec_fn``: a preexec function runs Python code between fork
and exec in a possibly multi-threaded parent (a Ray worker), which can deadlock. Standard library
only, so it starts fast with ``-S``.

Steps (the spec says which apply):

1. ``namespaces``: unshare mount, network, IPC, UTS and PID namespaces. The network namespace
   has no interfaces (no network); in the mount namespace private tmpfs folders are mounted over
   the world-writable folders and the parent's home (`hide`), with the few paths the program
   needs (its work folder, the Python installation: `expose`) bound back at the same place. The
   first child becomes PID 1 of the new PID namespace and only reaps: when the program ends (or
   the launcher is killed) it exits and the kernel kills every process left in the namespace.
   Without namespaces the launcher stays as the program's parent and a child subreaper
   (`PR_SET_CHILD_SUBREAPER`): every process the program leaves behind, even a daemon that left
   its session with ``setsid`` (out of reach of a process-group kill), is re-parented to the
   launcher instead of init, and the launcher kills them all when the program ends, or when the
   runner stops it with SIGTERM (wall-clock or output limit).
2. resource limits (CPU, address space, file size, open files, processes, no core dumps);
3. ``uid``: drop to that unprivileged user (no supplementary groups), so file permissions apply
   and the process limit is enforced (it is not for root);
4. exec the program with the scrubbed environment in the work folder.

Failure to set up exits with `SETUP_FAILED` and one line on stderr starting with `MARK`.
"""

import ctypes
import json
import os
import resource
import signal
import struct
import sys
import time

SETUP_FAILED = 125
MARK = "rayeval-sandbox:"

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
SCRATCH_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _under(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def _hide_folders(hide: list, expose: list, tmpfs_bytes: int) -> None:
    """Mount a private tmpfs over each folder of `hide`, binding back the `expose` paths below it.
    The shared scratch folders stay writable (sticky, like the originals); other folders (the
    parent's home) become read-only for the program."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
    for folder in hide:
        if not os.path.isdir(folder) or any(folder == p or _under(folder, p) for p in expose):
            continue
        keep = [p for p in expose if _under(p, folder) and os.path.exists(p)]
        handles = [os.open(p, os.O_PATH) for p in keep]
        mode = "1777" if folder in SCRATCH_FOLDERS else "0755"
        _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={tmpfs_bytes},mode={mode}")
        for path, handle in zip(keep, handles):
            if os.path.isdir(f"/proc/self/fd/{handle}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
            _mount(f"/proc/self/fd/{handle}", path, None, _MS_BIND | _MS_REC, None)
            os.close(handle)


def _set_limits(limits: dict) -> None:
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


def _exec_program(spec: dict) -> None:
    os.chdir(spec["workdir"])
    _set_limits(spec["limits"])
    if spec["uid"] is not None:
        os.setgroups([])
        os.setgid(spec["uid"])
        os.setuid(spec["uid"])
    os.umask(0o077)
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


def _reap(program: int, report_fd: int) -> None:
    """PID 1 of the namespace: wait for the program (reaping orphans), report its status, exit."""
    while True:
        pid, status = os.wait()
        if pid == program:
            os.write(report_fd, struct.pack("i", status))
            os._exit(0)


def _run_in_pid_namespace(spec: dict) -> None:
    read_fd, write_fd = os.pipe()
    reaper = os.fork()
    if reaper == 0:
        os.close(read_fd)
        _start(lambda _: _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl"), spec)
        program = os.fork()
        if program == 0:
            os.close(write_fd)
            _start(_exec_program, spec)
        _reap(program, write_fd)
    os.close(write_fd)
    _, reaper_status = os.waitpid(reaper, 0)
    data = os.read(read_fd, 4)
    _exit_like(struct.unpack("i", data)[0] if len(data) == 4 else reaper_status)


class _Stop(Exception):
    """The runner asked the launcher to stop (SIGTERM)."""


def _stop(signum, frame) -> None:
    raise _Stop


def _run_as_subreaper(spec: dict) -> None:
    """Without a PID namespace: run the program as a child, adopt whatever it leaves behind, and
    kill all of it when the program ends or the runner sends SIGTERM."""
    _start(lambda _: _check(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl"), spec)
    signal.signal(signal.SIGTERM, _stop)
    status = None
    try:
        program = os.fork()
        if program == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _start(_exec_program, spec)
        while status is None:
            pid, returned = os.wait()
            status = returned if pid == program else None
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_children()
    _exit_like(status if status is not None else signal.SIGKILL)  # a raw wait status: killed by SIGKILL


def _children() -> list:
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == me:
                found.append(int(name))
    return found


def _kill_children() -> None:
    """Kill and reap every child until none is left; orphans of killed children are re-parented
    here (subreaper), so a whole tree goes, a fork bomb included (its process limit bounds it)."""
    while True:
        for pid in _children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        time.sleep(0.005)


def _exit_like(status: int) -> None:
    """Exit as the program did: the same exit code, or death by the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status))


def _start(step, spec: dict) -> None:
    """Run a setup step; report a failure on stderr and exit with `SETUP_FAILED`."""
    try:
        step(spec)
    except BaseException as error:  # noqa: BLE001 - any setup failure is reported the same way
        os.write(2, f"{MARK} setup failed: {error!r}\n".encode())
        os._exit(SETUP_FAILED)


def _isolate(spec: dict) -> None:
    flags = _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS | _CLONE_NEWPID
    _check(_libc.unshare(flags), "unshare")
    _hide_folders(spec["hide"], spec["expose"], spec["limits"]["file_bytes"])


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    if spec["namespaces"]:
        _start(_isolate, spec)
        _run_in_pid_namespace(spec)
    _run_as_subreaper(spec)


if __name__ == "__main__":
    main()
