"""``ladderforge ladder``: the main job, a ladder per title (predict | probe | exhaustive)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ladderforge._cli.cmd_sweep import parse_heights
from ladderforge._cli.common import EXIT_PARTIAL, err_console, guarded, progress_bar
from ladderforge._cli.ladder_report import print_dry_run, print_report, report_json
from ladderforge.errors import UsageError
from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, LadderRules

if TYPE_CHECKING:
    from ladderforge.jobs.batch import TitleSource
    from ladderforge.jobs.config import LadderConfig

_RULES = LadderRules()


def register(app: typer.Typer) -> None:
    @app.command("ladder")
    def ladder_cmd(
        ctx: typer.Context,
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
        allow_resolution_dips: bool = typer.Option(
            False, "--allow-resolution-dips", help="Let resolution fall as the bitrate rises."
        ),
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
        vbv: str = typer.Option("off", help="off | capped (maxrate = --vbv-ratio x bitrate)."),
        vbv_ratio: float = typer.Option(1.5, help="Capped CRF: maxrate over the rung bitrate."),
        vbv_buffer_ratio: float = typer.Option(2.0, help="Capped CRF: bufsize over maxrate."),
        open_loop: bool = typer.Option(
            False, "--open-loop", help="Encode each rung once at its predicted CRF (no loop)."
        ),
        tolerance: float = typer.Option(
            0.75, help="Closed loop: ship a rung within this VMAF of its target."
        ),
        max_encodes: int = typer.Option(3, help="Closed loop: most encodes per rung."),
        segment_type: str = typer.Option("fmp4", help="HLS segments: fmp4 | mpegts."),
        model: Path = typer.Option(None, help="Model file (default: the shipped model)."),
        audio: bool = typer.Option(
            True, "--audio/--no-audio", help="Package the source's audio (AAC stereo)."
        ),
        audio_bitrate_kbps: int = typer.Option(128, "--audio-bitrate", help="Audio kbps."),
        work_dir: Path = typer.Option(
            None, help="Work files (probes, chunks, stores); default OUT/.work."
        ),
        keep_work: bool = typer.Option(
            False, "--keep-work", help="Keep a title's work files after it succeeded."
        ),
        workers: int = typer.Option(1, "--workers", "-j", help="Parallel encodes."),
        config_file: Path = typer.Option(
            None, "--config", help="A ladder.toml: any setting by its library name, [cost] prices."
        ),
        json_out: bool = typer.Option(
            False, "--json", help="A JSON summary on stdout (progress and notes on stderr)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, table or notes."),
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Say what would be encoded and its CPU estimate; encode nothing.",
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Choose a ladder per title. OUT/<title>/ gets what ships: <title>.ladder.json and, with
        --encode, every rung in scene-aligned chunks (IDR frames at the same places in every
        rung) as HLS + DASH (master.m3u8, manifest.mpd, <rung>/ segments) with the audio;
        a plan without --encode gets master.plan.m3u8. Work files go to OUT/.work (removed
        after success). A failing title is reported at the end (exit code 3)."""
        options = dict(locals())
        from ladderforge.jobs.batch import TitleSource, check_sources, read_manifest

        def _sources() -> list[TitleSource]:
            if manifest is not None and sources:
                raise UsageError("give source files or --manifest, not both")
            if manifest is not None:
                return read_manifest(manifest)
            if not sources:
                raise UsageError("no title given: pass source files or --manifest titles.csv")
            titles = [TitleSource(s) for s in sources]
            check_sources(titles)  # before any work, as a manifest is
            return titles

        titles = guarded(_sources, verbose=verbose)
        config = guarded(lambda: _config(options, ctx), verbose=verbose)
        if dry_run:
            from ladderforge.jobs.dry_run import estimate

            print_dry_run(guarded(lambda: estimate(titles, config)), as_json=json_out)
            return
        _run(titles, output, config, verbose=verbose, quiet=quiet, as_json=json_out)


_NOT_CONFIG = {
    "ctx",
    "sources", "manifest", "output", "verbose", "config_file", "json_out", "quiet", "dry_run",
}  # fmt: skip
_RENAMED = {"model": "model_path"}
"""CLI option -> LadderConfig field, where the names differ."""


def _config(options: dict[str, Any], ctx: typer.Context) -> LadderConfig:
    """The library's config from the command's options (flags map 1:1 onto its fields), over
    the ``--config`` file's settings: a flag given on the command line wins over the file."""
    from ladderforge.jobs.config import LadderConfig
    from ladderforge.jobs.settings_file import read_settings

    values = read_settings(options["config_file"]) if options["config_file"] else {}

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")

    for name, value in options.items():
        field = _RENAMED.get(name, name)
        if name in _NOT_CONFIG or (field in values and not given(name)):
            continue
        values[field] = parse_heights(value) if name == "heights" else value
    return LadderConfig(**values)


def _run(
    titles: list[TitleSource],
    output: Path,
    config: LadderConfig,
    *,
    verbose: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    from ladderforge.jobs.batch import run_batch

    with progress_bar(disable=quiet) as bars:
        task = bars.add_task("titles", total=len(titles))

        def stage(title: str, what: str) -> None:
            bars.update(task, description=f"{title}: {what}")

        def done(title: str, plan: object, error: str | None) -> None:
            bars.advance(task)

        report = guarded(
            lambda: run_batch(titles, output, config=config, on_stage=stage, on_title_done=done),
            verbose=verbose,
        )
    if as_json:
        typer.echo(report_json(report, output))
    print_report(report, quiet=quiet or as_json)
    if report.failures:
        for src, message in report.failures.items():
            err_console.print(f"[red]failed:[/] {src}: {message}", highlight=False)
        raise typer.Exit(EXIT_PARTIAL)
