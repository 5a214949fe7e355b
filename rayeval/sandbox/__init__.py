"""Sandboxed execution of untrusted programs (model-written code): one confined process per
program with CPU, wall-clock, memory, output, file-size and process limits, an empty temporary
work folder and a scrubbed environment; `run_batch` runs many in parallel (Ray or local).

See `rayeval.sandbox.runner` for what is contained how, and its limits without root.
"""

from rayeval.sandbox.batch import run_batch
from rayeval.sandbox.runner import PYTHON, Job, Limits, SandboxResult, containment, run_sandboxed

__all__ = ["PYTHON", "Job", "Limits", "SandboxResult", "containment", "run_batch", "run_sandboxed"]
