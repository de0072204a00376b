"""How the run commands show runs: live step progress, run and step tables, JSON.

Consoles are made per call (``stdout()``/``stderr()``) so rich writes to whatever
``sys.stdout``/``sys.stderr`` are at that moment. Times from the gateway are Unix seconds;
a ``datetime`` is accepted too.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.progress import Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.spinner import Spinner
from rich.table import Column, Table
from rich.text import Text

from lockgate.client import RunSummary, WorkflowResult

__all__ = [
    "StepProgress",
    "echo_json",
    "format_seconds",
    "jsonable",
    "run_duration",
    "runs_table",
    "show_run",
    "stderr",
    "stdout",
]

_STYLE = {
    "pending": "dim",
    "running": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}
_MARK = {"pending": "·", "completed": "✓", "failed": "✗", "cancelled": "⊘"}
_FINISHED = frozenset(("completed", "failed", "cancelled"))


def stdout() -> Console:
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _status(status: str) -> Text:
    return Text(status, style=_STYLE.get(status, ""))


def format_seconds(value: float | None) -> str:
    """``0.0123`` -> ``12ms``, ``3.5`` -> ``3.50s``, ``125`` -> ``2m05s``."""
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.2f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _when(value: Any) -> str:
    stamp = _timestamp(value)
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _elapsed(created_at: Any, finished_at: Any) -> float | None:
    created, finished = _timestamp(created_at), _timestamp(finished_at)
    if created is None or finished is None:
        return None
    return max(0.0, finished - created)


def run_duration(created_at: Any, finished_at: Any) -> str:
    """How long a run took, or ``running 3.20s`` while it runs."""
    created = _timestamp(created_at)
    if created is None:
        return ""
    if _timestamp(finished_at) is None:
        return f"running {format_seconds(max(0.0, time.time() - created))}"
    return format_seconds(_elapsed(created_at, finished_at))


def jsonable(value: Any) -> Any:
    """The client's dataclasses (and what they hold) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def echo_json(value: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping), for scripts."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


# -- tables --------------------------------------------------------------------------------


def _ago(value: Any) -> str:
    stamp = _timestamp(value)
    if stamp is None:
        return ""
    seconds = max(0, int(time.time() - stamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def runs_table(runs: Sequence[RunSummary], width: int) -> Table:
    """One line per run; the error is cut (with an ellipsis) to what ``width`` leaves."""
    headers = ("run", "workflow", "status", "created", "duration")
    rows = [
        (
            run.run_id,
            run.workflow_id,
            run.status,
            _ago(run.created_at),
            format_seconds(_elapsed(run.created_at, run.finished_at or time.time())),
        )
        for run in runs
    ]
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    # rich shrinks every column of a too-wide table, ids included; size the error ourselves.
    error_width = max(12, width - sum(widths) - 2 * len(widths))
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True
    )
    for header in headers:
        table.add_column(header, no_wrap=True, justify="right" if header == "duration" else "left")
    table.add_column("error", no_wrap=True, overflow="ellipsis", max_width=error_width)
    for run, row in zip(runs, rows, strict=True):
        run_id, workflow, status, created, took = (escape(cell) for cell in row)
        table.add_row(run_id, workflow, _status(status), created, took, escape(run.error or ""))
    return table


def _steps_table(result: WorkflowResult) -> Table:
    table = Table(title="steps", title_justify="left")
    table.add_column("step", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("started", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("error", overflow="fold")
    for name, step in result.steps.items():
        duration = None if step.duration_ms is None else step.duration_ms / 1000
        table.add_row(
            escape(name),
            _status(step.status),
            str(step.attempts),
            _when(step.started_at),
            format_seconds(duration),
            escape(step.error or ""),
        )
    return table


def show_run(console: Console, result: WorkflowResult) -> None:
    """The run's state, a table of its steps and its result (the completed steps' outputs)."""
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column(overflow="fold")
    header.add_row("run", escape(result.run_id))
    header.add_row("workflow", escape(result.workflow_id))
    header.add_row("status", _status(result.status))
    header.add_row("created", _when(result.created_at))
    header.add_row("finished", _when(result.finished_at) or "-")
    header.add_row("duration", run_duration(result.created_at, result.finished_at))
    if result.error:
        header.add_row("error", Text(result.error, style="red"))
    console.print(header)
    if result.steps:
        console.print(_steps_table(result))
    console.print(Text("result", style="bold"))
    console.print_json(data=jsonable(result.result))


# -- live progress -------------------------------------------------------------------------


class _StateColumn(ProgressColumn):
    """A spinner while running, a mark once there is an outcome."""

    def __init__(self, table_column: Column | None = None) -> None:
        super().__init__(table_column)
        self._spinner = Spinner("dots", style="yellow")

    def render(self, task: Task) -> RenderableType:
        status = str(task.fields.get("status", "pending"))
        if status == "running":
            return self._spinner.render(task.get_time())
        return Text(_MARK.get(status, "?"), style=_STYLE.get(status, ""))


class _StatusColumn(ProgressColumn):
    def render(self, task: Task) -> RenderableType:
        return _status(str(task.fields.get("status", "pending")))


class _DurationColumn(ProgressColumn):
    """The gateway's measure once finished; the time watched so far while running (read
    from this machine's clock, so a gateway's skewed clock cannot make it negative)."""

    def render(self, task: Task) -> RenderableType:
        seconds = task.fields.get("seconds")
        if isinstance(seconds, float):
            return Text(format_seconds(seconds), style="cyan")
        if task.fields.get("status") == "running" and task.elapsed is not None:
            return Text(format_seconds(task.elapsed), style="yellow")
        return Text("")


class StepProgress:
    """One progress line for the run and one per step, redrawn from every update of the run.

    ``with StepProgress(console, "pipeline", ["extract", "load"]) as progress:`` then
    ``progress.update(result)`` for each ``WorkflowResult`` (``wait_for_run``'s
    ``on_update``). A console that is not a terminal gets the final lines once, at the end.
    """

    def __init__(self, console: Console, workflow: str, steps: Sequence[str]) -> None:
        self._workflow = workflow
        # Fixed or unwrapped columns, so that on a narrow console only the error note
        # (the one wrapping column) gives up room.
        self._progress = Progress(
            _StateColumn(table_column=Column(width=1, no_wrap=True)),
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            _StatusColumn(table_column=Column(width=9, no_wrap=True)),
            _DurationColumn(table_column=Column(min_width=6, no_wrap=True, justify="right")),
            TextColumn("{task.fields[note]}", style="red", table_column=Column(overflow="fold")),
            console=console,
        )
        self._run = self._add(f"[bold]{escape(workflow)}[/]")
        self._steps = {name: self._add(f"  {escape(name)}") for name in steps}

    def _add(self, description: str) -> TaskID:
        return self._progress.add_task(
            description, total=1, start=False, status="pending", seconds=None, note=""
        )

    def __enter__(self) -> StepProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def _set(self, task: TaskID, status: str, seconds: float | None, note: str) -> None:
        if status == "running" and self._progress.tasks[task].start_time is None:
            self._progress.start_task(task)
        done = 1 if status in _FINISHED else 0
        self._progress.update(task, completed=done, status=status, seconds=seconds, note=note)

    def update(self, result: WorkflowResult) -> None:
        """Shows ``result``: the run's state and every step's."""
        for name, step in result.steps.items():
            if name not in self._steps:
                self._steps[name] = self._add(f"  {escape(name)}")
            note = escape(step.error or "")
            if step.attempts > 1 and not note:
                note = f"attempt {step.attempts}"
            seconds = None if step.duration_ms is None else step.duration_ms / 1000
            self._set(self._steps[name], step.status, seconds, note)
        done = sum(step.status == "completed" for step in result.steps.values())
        self._progress.update(
            self._run,
            description=f"[bold]{escape(self._workflow)}[/] {escape(result.run_id)} "
            f"[dim]{done}/{len(result.steps)} steps[/]",
        )
        self._set(self._run, result.status, _elapsed(result.created_at, result.finished_at), "")
