"""``ladderforge sweep``: the exhaustive path, every (height, CRF) encoded and measured."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import typer
from rich.progress import TaskID
from rich.table import Table

from ladderforge._cli.common import (
    EXIT_PARTIAL,
    console,
    err_console,
    guarded,
    print_table,
    progress_bar,
)
from ladderforge.errors import UsageError
from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, DEFAULT_SWEEP_CRFS, LadderRules
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S, check_timeout
from ladderforge.types import Ladder

_RULES = LadderRules()
_HEIGHTS = ",".join(str(h) for h in DEFAULT_HEIGHTS)
_CRFS = ",".join(f"{c:g}" for c in DEFAULT_SWEEP_CRFS)


def parse_crfs(text: str) -> tuple[float, ...]:
    """``18:42:4`` (start:stop:step, stop included) or ``18,22,26``."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = round((stop - start) / step) + 1
            return tuple(start + i * step for i in range(count) if start + i * step <= stop + 1e-9)
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(
            f"--crf must be START:STOP:STEP (e.g. 18:42:4) or a list (18,26,34). Got {text!r}."
        ) from None


def parse_heights(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(
            f"--heights must be a list of integers (1080,720). Got {text!r}."
        ) from None


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        sources: list[Path] = typer.Argument(..., help="Source videos (titles)."),
        output: Path = typer.Option(..., "-o", "--output", help="Output folder (resumable)."),
        codec: str = typer.Option("x265", help="Encoder backend."),
        heights: str = typer.Option(_HEIGHTS, help="Heights; capped at the source's."),
        crf: str = typer.Option(_CRFS, "--crf", help="CRFs: START:STOP:STEP or a list."),
        preset: str = typer.Option(
            None, help="Encoder preset (default: the backend's, e.g. x265 veryfast)."
        ),
        workers: int = typer.Option(1, "--workers", "-j", help="Parallel encode+measure jobs."),
        metrics: str = typer.Option("vmaf,vmaf_neg,psnr,ssim", help="Metrics per point."),
        subsample: int = typer.Option(1, help="Measure every n-th frame."),
        top_vmaf: float = typer.Option(_RULES.top_vmaf, help="Ladder: VMAF of the top rung."),
        max_rungs: int = typer.Option(_RULES.max_rungs, help="Ladder: most rungs."),
        keep_encodes: bool = typer.Option(False, help="Keep encoded files under OUT/work."),
        timeout: float = typer.Option(
            DEFAULT_TIMEOUT_S, "--timeout", help="Seconds each ffmpeg run may take."
        ),
        wait: bool = typer.Option(
            False, "--wait", help="If another run holds OUT, wait for it instead of failing."
        ),
        verbose: bool = typer.Option(
            False, "--verbose", "-v", help="Show ffmpeg commands on errors."
        ),
    ) -> None:
        """Encode every (height, CRF) of each title, measure VMAF, take the hull, pick a ladder.

        Writes OUT/points.parquet, OUT/hull.parquet, OUT/<title>.ladder.json and
        OUT/results.sqlite. Rerunning with the same -o resumes without redoing finished work.
        One run at a time per OUT: a second one fails at once, or queues with --wait.
        """
        from ladderforge.jobs.outputs import write_sweep_outputs
        from ladderforge.jobs.sweep import SweepConfig, SweepEvent, sweep

        config = guarded(
            lambda: SweepConfig(
                codec=codec,
                heights=parse_heights(heights),
                crfs=parse_crfs(crf),
                preset=preset,
                metrics=tuple(m.strip() for m in metrics.split(",") if m.strip()),
                n_subsample=subsample,
                keep_encodes=keep_encodes,
                timeout_s=check_timeout(timeout, function="sweep"),
            ),
            verbose=verbose,
        )
        with progress_bar() as bars:
            tasks: dict[str, TaskID] = {}

            def start(title: str, n_jobs: int) -> None:
                tasks[title] = bars.add_task(title, total=n_jobs)

            def event(ev: SweepEvent) -> None:
                bars.update(tasks[ev.title], completed=ev.done)

            report = guarded(
                lambda: sweep(
                    sources,
                    output,
                    config=config,
                    workers=workers,
                    wait=wait,
                    on_event=event,
                    on_title_start=start,
                ),
                verbose=verbose,
            )
        ladders = guarded(
            lambda: write_sweep_outputs(
                report.points,
                output,
                rules=LadderRules(top_vmaf=top_vmaf, max_rungs=max_rungs),
            )
        )
        _print_summary(ladders)
        console.print(
            f"encodes run: {report.encodes_run}, reused: {report.encodes_reused}; "
            f"measurements run: {report.measurements_run}, reused: {report.measurements_reused}"
        )
        if report.failures:
            for title, message in report.failures.items():
                line = message if message.startswith(title) else f"{title}: {message}"
                err_console.print(f"[red]failed:[/] {line}", highlight=False)
            raise typer.Exit(EXIT_PARTIAL)


def _print_summary(ladders: Mapping[str, Ladder]) -> None:
    table = Table("title", "rung", "resolution", "crf", "kbps", "vmaf", "cpu s")
    for title, ladder in ladders.items():
        for i, rung in enumerate(ladder.rungs):
            s = rung.settings
            table.add_row(
                title if i == 0 else "",
                str(i + 1),
                f"{s.width}x{s.height}",
                f"{s.q:g}",
                f"{rung.bitrate_kbps:.0f}",
                f"{rung.vmaf:.2f}",
                f"{rung.cost.encode_cpu_s or 0:.1f}",
            )
    print_table(table)
