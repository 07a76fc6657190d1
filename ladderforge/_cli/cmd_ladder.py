"""``ladderforge ladder``: the main job, a ladder per title (predict | probe | exhaustive)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ladderforge._cli.cmd_sweep import parse_heights
from ladderforge._cli.common import EXIT_PARTIAL, console, err_console, guarded, progress_bar
from ladderforge.errors import UsageError
from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, LadderRules

if TYPE_CHECKING:
    from ladderforge.jobs.batch import BatchReport, TitleSource
    from ladderforge.jobs.config import LadderConfig
    from ladderforge.types import Rung

_RULES = LadderRules()


def register(app: typer.Typer) -> None:
    @app.command("ladder")
    def ladder_cmd(
        sources: list[Path] = typer.Argument(None, help="Source videos (titles)."),
        manifest: Path = typer.Option(
            None, help="CSV with a 'path' (and optional 'title') column."
        ),
        output: Path = typer.Option(..., "-o", "--output", help="Output folder (resumable)."),
        mode: str = typer.Option("probe", help="predict | probe | exhaustive."),
        codec: str = typer.Option("x265", help="Encoder backend."),
        preset: str = typer.Option(
            None, help="Encoder preset (default: the backend's, e.g. x265 veryfast, NVENC p5)."
        ),
        heights: str = typer.Option(
            ",".join(str(h) for h in DEFAULT_HEIGHTS), help="Candidate heights."
        ),
        top_vmaf: float = typer.Option(_RULES.top_vmaf, help="VMAF of the top rung."),
        floor_vmaf: float = typer.Option(_RULES.floor_vmaf, help="VMAF of the bottom rung."),
        max_rungs: int = typer.Option(_RULES.max_rungs, help="Most rungs."),
        encode: bool = typer.Option(False, "--encode", help="Encode every rung."),
        validate: bool = typer.Option(False, "--validate", help="Encode and measure every rung."),
        per_scene: bool = typer.Option(
            False, "--per-scene", help="A CRF per chunk (equal-slope allocation); needs --encode."
        ),
        min_chunk_s: float = typer.Option(1.0, help="Scenes shorter than this join a neighbour."),
        max_chunk_s: float = typer.Option(6.0, help="Longest chunk (= HLS segment), seconds."),
        scene_floor_vmaf: float = typer.Option(
            None, help="Per-scene: no chunk predicted below this VMAF."
        ),
        max_scene_rate_ratio: float = typer.Option(
            None, help="Per-scene: most bitrate ratio between neighbouring chunks."
        ),
        open_loop: bool = typer.Option(
            False, "--open-loop", help="Encode each rung once at its predicted CRF (no loop)."
        ),
        tolerance: float = typer.Option(
            0.75, help="Closed loop: ship a rung within this VMAF of its target."
        ),
        max_encodes: int = typer.Option(3, help="Closed loop: most encodes per rung."),
        segment_type: str = typer.Option("fmp4", help="HLS segments: fmp4 | mpegts."),
        model: Path = typer.Option(None, help="Model file (default: the shipped model)."),
        workers: int = typer.Option(1, "--workers", "-j", help="Parallel encodes."),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Choose a ladder per title; write OUT/<title>.ladder.json, OUT/<title>/master.m3u8,
        OUT/summary.parquet. With --encode, every rung is encoded in scene-aligned chunks
        (IDR frames at the same places in every rung) into OUT/<title>/<rung>.mp4 and packaged
        as HLS in OUT/<title>/<rung>/. A failing title is reported at the end (exit code 3)."""
        options = dict(locals())
        from ladderforge.jobs.batch import TitleSource, read_manifest

        def _sources() -> list[TitleSource]:
            if manifest is not None and sources:
                raise UsageError("give source files or --manifest, not both")
            if manifest is not None:
                return read_manifest(manifest)
            if not sources:
                raise UsageError("no title given: pass source files or --manifest titles.csv")
            return [TitleSource(s) for s in sources]

        titles = guarded(_sources, verbose=verbose)
        config = guarded(lambda: _config(options), verbose=verbose)
        _run(titles, output, config, verbose=verbose)


_NOT_CONFIG = {"sources", "manifest", "output", "verbose"}


def _config(options: dict[str, Any]) -> LadderConfig:
    """The library's config from the command's options: flags map 1:1 onto its fields."""
    from ladderforge.jobs.config import LadderConfig

    values = {k: v for k, v in options.items() if k not in _NOT_CONFIG}
    values["heights"] = parse_heights(values["heights"])
    values["model_path"] = values.pop("model")
    return LadderConfig(**values)


def _run(titles: list[TitleSource], output: Path, config: LadderConfig, *, verbose: bool) -> None:
    from ladderforge.jobs.batch import run_batch

    with progress_bar() as bars:
        task = bars.add_task("titles", total=len(titles))

        def stage(title: str, what: str) -> None:
            bars.update(task, description=f"{title}: {what}")

        def done(title: str, plan: object, error: str | None) -> None:
            bars.advance(task)

        report = guarded(
            lambda: run_batch(titles, output, config=config, on_stage=stage, on_title_done=done),
            verbose=verbose,
        )
    _print(report)
    if report.failures:
        for src, message in report.failures.items():
            err_console.print(f"[red]failed:[/] {src}: {message}", highlight=False)
        raise typer.Exit(EXIT_PARTIAL)


def _print(report: BatchReport) -> None:
    table = Table(
        "title",
        "rung",
        "resolution",
        "crf",
        "pred kbps",
        "pred vmaf",
        "meas kbps",
        "meas vmaf",
        "decision cpu s",
    )
    for title, plan in report.plans.items():
        for i, r in enumerate(plan.ladder.rungs):
            s = r.settings
            table.add_row(
                title if i == 0 else "",
                str(i + 1),
                f"{s.width}x{s.height}",
                _crfs(r),
                f"{r.bitrate_kbps:.0f}",
                f"{r.vmaf:.1f}",
                "" if r.measured_bitrate_kbps is None else f"{r.measured_bitrate_kbps:.0f}",
                "" if r.measured_vmaf is None else f"{r.measured_vmaf:.1f}",
                f"{plan.decision_cpu_s:.1f}" if i == 0 else "",
            )
    console.print(table)
    for title, plan in report.plans.items():
        for note in plan.ladder.notes:
            console.print(f"[yellow]{title}:[/] {note}", highlight=False)


def _crfs(rung: Rung) -> str:
    """The rung's CRF, or the range of its chunks' CRFs (per-scene)."""
    qs = [c.q for c in rung.chunks] or [rung.settings.q or 0]
    return f"{min(qs):g}" if min(qs) == max(qs) else f"{min(qs):g}-{max(qs):g}"
