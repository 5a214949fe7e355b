"""The in-cluster judge: vLLM's OpenAI-compatible server inside the Ray cluster.

With `--judge-model PATH_OR_HF_ID` and no `--judge-api-base`, the pool reserves a placement
group of `--judge-tp` GPUs (CPUs on a CPU-only cluster) through the engine's placement code,
starts `python -m vllm.entrypoints.openai.api_server` as a subprocess of an actor on it, and
points its HTTP workers at that server. So the judge needs no separate deployment, and the pool
has one interface whatever the backend. (The `vllm` console script is not used: it fails with
the CPU build's distribution name.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from rayeval.engine.placement import PLACEMENT_TIMEOUT_S, Placement
from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig, JudgeOptionRefs
from rayeval.options import option_ref

POLL_S = 2.0
LOG_TAIL_CHARS = 1500
FREE_NOW_TIMEOUT_S = 10.0
"""Adding replicas takes only what is free: resources freed by ended engines show up in
well under a second; a reservation still pending after this needs a node that is not there."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


class JudgeServer:
    """Owns one vLLM server subprocess (run as a Ray actor on the judge's placement group)."""

    def __init__(self, model: str, tp: int, use_gpu: bool, gpu_ids: list[str]) -> None:
        self.model = model
        self.tp = tp
        self.use_gpu = use_gpu
        self.gpu_ids = gpu_ids
        self._proc: subprocess.Popen | None = None
        self._log_path: Path | None = None

    def _command(self, port: int) -> list[str]:
        from rayeval.config import EngineConfig

        command = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", self.model,
            "--served-model-name", self.model,
            "--host", "0.0.0.0",
            "--port", str(port),
            "--tensor-parallel-size", str(self.tp),
            "--gpu-memory-utilization", str(EngineConfig().memory_fraction(self.use_gpu)),
        ]  # fmt: skip
        if not self.use_gpu:
            command.append("--enforce-eager")
        if self.tp > 1:
            command += ["--distributed-executor-backend", "mp"]
        return command

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.use_gpu:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(self.gpu_ids)
        else:
            from rayeval.engine.vllm_engine import cpu_thread_binding

            env["VLLM_CPU_OMP_THREADS_BIND"] = cpu_thread_binding(self.tp)
        return env

    def start(self, timeout: float) -> str:
        """Start the server and wait until it answers; returns its base URL (`http://ip:port/v1`)."""
        import ray

        port = _free_port()
        fd, log_name = tempfile.mkstemp(prefix="rayeval-judge-server-", suffix=".log")
        self._log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self._proc = subprocess.Popen(
                self._command(port), stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RayevalError(
                    f"the in-cluster judge server for {self.model} exited with code {self._proc.returncode} "
                    f"(server log: {self._log_tail()})"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5):
                    return f"http://{ray.util.get_node_ip_address()}:{port}/v1"
            except (urllib.error.URLError, OSError):
                time.sleep(POLL_S)
        self.stop()
        raise RayevalError(
            f"the in-cluster judge server for {self.model} did not start within {timeout:.0f}s (resources: are the GPUs free?)"
        )

    def _log_tail(self) -> str:
        if self._log_path is None or not self._log_path.is_file():
            return "none"
        text = self._log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
        return " | ".join(line for line in text.splitlines() if line.strip())

    def stop(self) -> None:
        """Terminate the server and its workers (they share its process group). vLLM's engine-core
        processes can outlive a server that exits on SIGTERM (seen after a sweep: an orphaned
        engine core holding 7 GB), so whatever is left of the group is then killed."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):  # nothing left of the group
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
        self._proc = None


@dataclass
class _Replica:
    """One judge server: its actor, its placement, and its URL once it answers."""

    actor: Any
    placement: Placement
    api_base: str = ""


class InClusterJudge:
    """The `in-cluster` judge backend (`rayeval.judge.backends`): `config.replicas` started
    `JudgeServer` actors, each on its own placement group; `add_replicas` starts more on
    resources freed later (a sweep's engines), `close()` frees them all. The servers need no key."""

    key: SecretStr | None = None

    def __init__(self, config: JudgeConfig, refs: JudgeOptionRefs = JudgeOptionRefs()) -> None:
        """Serve `config.model` on `config.tp` GPUs per replica (CPUs on a CPU-only cluster);
        `refs` name the options that chose the model, for errors."""
        from rayeval.engine.placement import cluster_gpu_count

        self.config, self.refs = config, refs
        self.use_gpu = cluster_gpu_count() > 0
        self.replicas: list[_Replica] = []
        try:
            self._start([self._reserve(PLACEMENT_TIMEOUT_S)] + self._reserve_free(config.replicas - 1, PLACEMENT_TIMEOUT_S))
        except BaseException:
            self.close()
            raise

    @property
    def api_base(self) -> str:
        """The first server's URL (the pool checks the endpoint there)."""
        return self.replicas[0].api_base

    @property
    def api_bases(self) -> list[str]:
        return [replica.api_base for replica in self.replicas]

    def add_replicas(self, count: int) -> list[str]:
        """Start up to `count` more servers on what is free now (waiting `FREE_NOW_TIMEOUT_S` per
        reservation, never for new nodes); returns their URLs. A replica that fails to start is
        dropped: the judge goes on with the servers it has."""
        placements = self._reserve_free(count, FREE_NOW_TIMEOUT_S)
        before = len(self.replicas)
        try:
            self._start(placements)
        except RayevalError:
            return [r.api_base for r in self.replicas[before:] if r.api_base]
        return self.api_bases[before:]

    def _reserve(self, timeout_s: float) -> Placement:
        from rayeval.engine.placement import reserve_placement

        return reserve_placement(self.config.tp, self.use_gpu, timeout_s)

    def _reserve_free(self, count: int, timeout_s: float) -> list[Placement]:
        """Up to `count` placements, stopping at the first that cannot be had within `timeout_s`."""
        placements = []
        for _ in range(count):
            try:
                placements.append(self._reserve(timeout_s))
            except RayevalError:
                break
        return placements

    def _start(self, placements: list[Placement]) -> None:
        """Start a server on each placement, all at once; raise the first failure (one line)."""
        import ray

        from rayeval.engine.placement import release_placement

        server_cls = ray.remote(JudgeServer)
        started = []
        for placement in placements:
            actor = server_cls.options(**placement.actor_options).remote(self.config.model, self.config.tp, self.use_gpu, placement.gpu_ids)
            started.append((_Replica(actor, placement), actor.start.remote(self.config.server_start_timeout)))
        failure: BaseException | None = None
        for replica, url in started:
            try:
                replica.api_base = ray.get(url)
                self.replicas.append(replica)
            except BaseException as exc:
                _stop_server(replica.actor)
                release_placement(replica.placement)
                failure = failure or exc
        if failure is not None:
            cause = getattr(failure, "cause", None)
            if isinstance(cause, RayevalError):  # keep the user error one line, without the actor traceback
                raise RayevalError(f"{cause}; check {option_ref(self.refs.model)} and {option_ref('judge.tp')}") from None
            raise failure

    def close(self) -> None:
        from rayeval.engine.placement import release_placement

        replicas, self.replicas = self.replicas, []
        for replica in replicas:
            _stop_server(replica.actor)
            release_placement(replica.placement)


def _stop_server(actor: Any) -> None:
    import ray

    try:
        ray.get(actor.stop.remote(), timeout=60)
    except Exception:  # the actor may already be gone; killing it below frees the rest
        pass
    ray.kill(actor)
