"""``ladderforge analyze``: content features, scene cuts and title summary for each source."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import TaskID
from rich.table import Table

from ladderforge._cli.common import (
    EXIT_ERROR,
    EXIT_PARTIAL,
    console,
    err_console,
    fail,
    guarded,
    print_table,
    progress_bar,
)
from ladderforge.analysis.schema import DEFAULT_ANALYSIS_PIXELS
from ladderforge.errors import LadderforgeError

if TYPE_CHECKING:
    from ladderforge.analysis import ContentProfile


NOT_VIDEO_SUFFIXES = frozenset(
    {
        ".tsv",
        ".csv",
        ".txt",
        ".md",
        ".json",
        ".parquet",
        ".yaml",
        ".yml",
        ".log",
        ".html",
        ".py",
        ".sha256",
        ".md5",
    }
)
"""Files a folder glob (``corpus/*``) brings along that are skipped with a note, not failed."""


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        sources: list[Path] = typer.Argument(..., help="Video files to analyse."),
        output: Path | None = typer.Option(
            None, "-o", "--output", help="Write every title's per-frame features to this parquet."
        ),
        stride: int | None = typer.Option(
            None, "--stride", min=1, help="Analyse every n-th frame (default 1; 2 with --fast)."
        ),
        fast: bool = typer.Option(
            False, "--fast", help="Skip non-reference frames and the loop filter in the decoder."
        ),
        analysis_pixels: int = typer.Option(
            DEFAULT_ANALYSIS_PIXELS, "--analysis-pixels", help="Pixel budget of the analysis grid."
        ),
        scene_detector: str = typer.Option(
            "adaptive", "--scene-detector", help="PySceneDetect detector: adaptive or content."
        ),
        min_scene_s: float = typer.Option(0.5, "--min-scene-s", help="Shortest scene, seconds."),
        no_cache: bool = typer.Option(
            False, "--no-cache", help="Neither read nor write the analysis cache."
        ),
        cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Analysis cache folder."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Show ffmpeg details."),
    ) -> None:
        """Analyse sources in one decode pass each: SI/TI, DCT texture, brightness, colour, noise,
        motion, letterbox, screen content, scene cuts. Prints a summary per title."""
        from ladderforge.analysis import analyze, write_profiles

        cache: Path | bool | None = False if no_cache else cache_dir
        profiles: list[ContentProfile] = []
        failed = 0
        skipped = [s for s in sources if s.suffix.lower() in NOT_VIDEO_SUFFIXES]
        for src in skipped:
            err_console.print(f"[dim]skipped {src} (not a video file)[/]", highlight=False)
        with progress_bar() as progress:
            for src in (s for s in sources if s not in skipped):
                task = progress.add_task(src.name, total=None)

                def report(done: int, total: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done, total=total)

                try:
                    profiles.append(
                        analyze(
                            src,
                            stride=stride,
                            fast=fast,
                            analysis_pixels=analysis_pixels,
                            scene_detector=scene_detector,
                            min_scene_s=min_scene_s,
                            cache_dir=cache,
                            on_progress=report,
                        )
                    )
                except LadderforgeError as exc:
                    failed += 1
                    progress.update(task, description=f"[red]{src.name} (failed)")
                    progress.stop_task(task)
                    fail(exc, verbose=verbose)  # prints the error; the batch goes on
        if profiles:  # full width when piped: the table has many columns
            print_table(_summary(profiles))
        if output is not None and profiles:
            written = guarded(lambda: write_profiles(profiles, output), verbose=verbose)
            console.print(f"features of {len(profiles)} title(s) written to {written}")
        if failed:
            err_console.print(f"[red]{failed} of {len(sources)} source(s) failed[/]")
            raise typer.Exit(EXIT_PARTIAL if profiles else EXIT_ERROR)
        if not profiles:
            err_console.print("[red]no video file to analyse[/]")
            raise typer.Exit(EXIT_ERROR)


def _summary(profiles: list[ContentProfile]) -> Table:
    table = Table(
        "title",
        "size",
        "frames",
        "lost",
        "scenes",
        "SI",
        "TI",
        "E",
        "h",
        "bright",
        "colour",
        "noise",
        "motion",
        "active area",
        "screen",
        "fps",
        title="analysis",
    )
    for p in profiles:
        t, s = p.title, p.source
        area = f"{t['active_w']}x{t['active_h']}+{t['active_x']}+{t['active_y']}"
        fps = "cached" if p.from_cache else f"{float(t['frames_decoded'] or 0) / p.wall_s:.0f}"
        table.add_row(
            s.title,
            f"{s.width}x{s.height}",
            f"{t['frames_analysed']}/{t['frames_expected']}",
            str(t["frames_lost"]),
            str(t["scene_count"]),
            f"{t['si_mean']:.1f}",
            f"{t['ti_mean']:.1f}",
            f"{t['texture_e_mean']:.1f}",
            f"{t['texture_h_mean']:.2f}",
            f"{t['luma_mean_mean']:.0f}",
            f"{t['colorfulness_mean']:.1f}",
            f"{t['noise_sigma_mean']:.2f}",
            f"{t['motion_mean']:.1f} ({t['motion_source']})",
            area,
            "yes" if t["screen_content"] else "no",
            fps,
        )
    return table
