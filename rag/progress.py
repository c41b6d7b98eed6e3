"""Progress of long steps: the `Progress` protocol that installs and indexing report to, and its displays.

`ConsoleProgress` draws bars on a terminal and prints one line a step in logs and pipes;
byte steps show size and transfer speed, other units (chunks) a count and a rate. The app
draws the same protocol on a Gradio bar (`rag.ui`). `NoProgress` reports nowhere.
"""

from __future__ import annotations

from typing import Protocol

from rich import progress as bars
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class Progress(Protocol):
    """Where long steps report to (the CLI draws bars, the app a progress bar; tests record)."""

    def step(self, label: str, total: int | None = None, unit: str = "B") -> None: ...
    def advance(self, amount: int) -> None: ...


class NoProgress:
    def step(self, label: str, total: int | None = None, unit: str = "B") -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


class RateColumn(ProgressColumn):
    """Items per second, in the task's unit ("12.5 chunks/s"); bytes use rich's own column."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "B")
        if unit == "B":
            return TransferSpeedColumn().render(task)
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} {unit}/s")


class SizeColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return (
            DownloadColumn().render(task) if task.fields.get("unit", "B") == "B" else MofNCompleteColumn().render(task)
        )


class ConsoleProgress:
    """Progress bars on a terminal; one line a step otherwise (CI logs, pipes)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars: bars.Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> ConsoleProgress:
        if self.console.is_terminal:
            self.bars = bars.Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                SizeColumn(),
                RateColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.stop()

    def step(self, label: str, total: int | None = None, unit: str = "B") -> None:
        if self.bars is None:
            self.console.print(f"… {label}", markup=False)
            return
        if self.task is not None:  # the previous step is done
            done = self.bars.tasks[-1]
            self.bars.update(self.task, total=done.total or 1, completed=done.total or 1)
        self.task = self.bars.add_task(label, total=total, unit=unit)

    def advance(self, amount: int) -> None:
        if self.bars is not None and self.task is not None:
            self.bars.advance(self.task, amount)
