"""Progress display for generation: a rich bar per model on a terminal, log lines elsewhere.

`ray job submit` captures output without a terminal, where an animated bar would be noise; there
each model logs a line at most every few seconds instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass
class _ModelCounter:
    total: int
    done: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    last_log: float = 0.0

    def tokens_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.tokens / elapsed if elapsed > 0 else 0.0


class ConsoleProgress:
    """Implements the scheduler's `ProgressSink`; use as a context manager."""

    LOG_EVERY_S = 10.0

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self.counters: dict[str, _ModelCounter] = {}
        self.tasks: dict[str, TaskID] = {}
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("prompts · {task.fields[tok_s]:>7.1f} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
        )

    def __enter__(self) -> ConsoleProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def add_model(self, model_id: str, total: int) -> None:
        self.counters[model_id] = _ModelCounter(total=total)
        self.tasks[model_id] = self.bar.add_task(model_id, total=total, tok_s=0.0)

    def advance(self, model_id: str, done: int, completion_tokens: int) -> None:
        counter = self.counters[model_id]
        counter.done += done
        counter.tokens += completion_tokens
        rate = counter.tokens_per_second()
        self.bar.update(self.tasks[model_id], advance=done, tok_s=rate)
        now = time.monotonic()
        if not self.live and (counter.done >= counter.total or now - counter.last_log >= self.LOG_EVERY_S):
            counter.last_log = now
            self.console.print(f"{model_id}: {counter.done}/{counter.total} prompts, {rate:.1f} tok/s")

    def note(self, message: str) -> None:
        self.console.print(message)
