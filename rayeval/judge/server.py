"""The in-cluster judge: vLLM's OpenAI-compatible server inside the Ray cluster.

With `--judge-model PATH_OR_HF_ID` and no `--judge-api-base`, the pool reserves a placement
group of `--judge-tp` GPUs (CPUs on a CPU-only cluster) through the engine's placement code,
starts `python -m vllm.entrypoints.openai.api_server` as a subprocess of an actor on it, and
points its HTTP workers at that server. So the judge needs no separate deployment, and the pool
has one interface whatever the backend. (The `vllm` console script is not used: it fails with
the CPU build's distribution name.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig, JudgeOptionRefs
from rayeval.options import option_ref

POLL_S = 2.0
LOG_TAIL_CHARS = 1500


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
        elif self.tp > 1:
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
        """Terminate the server and its workers (they share its process group)."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
        self._proc = None


class InClusterJudge:
    """The `in-cluster` judge backend (`rayeval.judge.backends`): a started `JudgeServer` actor
    and its placement group; `close()` frees both. The server needs no key."""

    key: SecretStr | None = None

    def __init__(self, config: JudgeConfig, refs: JudgeOptionRefs = JudgeOptionRefs()) -> None:
        """Serve `config.model` on `config.tp` GPUs (CPUs on a CPU-only cluster); `refs` name the
        options that chose the model, for errors."""
        import ray

        from rayeval.engine.placement import cluster_gpu_count, release_placement, reserve_placement

        use_gpu = cluster_gpu_count() > 0
        self._release = release_placement
        model, tp = config.model, config.tp
        self._placement = reserve_placement(tp, use_gpu)
        try:
            self._actor = (
                ray.remote(JudgeServer).options(**self._placement.actor_options).remote(model, tp, use_gpu, self._placement.gpu_ids)
            )
            self.api_base: str = ray.get(self._actor.start.remote(config.server_start_timeout))
        except BaseException as exc:
            self.close()
            cause = getattr(exc, "cause", None)
            if isinstance(cause, RayevalError):  # keep the user error one line, without the actor traceback
                raise RayevalError(f"{cause}; check {option_ref(refs.model)} and {option_ref('judge.tp')}") from None
            raise

    def close(self) -> None:
        import ray

        actor = getattr(self, "_actor", None)
        if actor is not None:
            try:
                ray.get(actor.stop.remote(), timeout=60)
            except Exception:  # the actor may already be gone; killing it below frees the rest
                pass
            ray.kill(actor)
            self._actor = None
        self._release(self._placement)
