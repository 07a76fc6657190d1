"""``ladderforge ladder``: the main job, a ladder per title (predict | probe | exhaustive)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ladderforge._cli.cmd_sweep import parse_heights
from ladderforge._cli.common import EXIT_PARTIAL, err_console, guarded, progress_bar
from ladderforge._cli.ladder_report import print_dry_run, print_report, report_json
from ladderforge.errors import UsageError
from ladderforge.jobs.defaults import DEFAULT_HEIGHTS, LadderRules
from ladderforge.media.ffmpeg import DEFAULT_TIMEOUT_S

if TYPE_CHECKING:
    from ladderforge.jobs.batch import TitleSource
    from ladderforge.jobs.config import LadderConfig
    from ladderforge.jobs.executor import Executor

_RULES = LadderRules()

_Sources = Annotated[list[Path] | None, typer.Argument(help="Source videos (titles).")]
_Manifest = Annotated[
    Path | None, typer.Option(help="CSV with a 'path' (and optional 'title') column.")
]
_Output = Annotated[Path, typer.Option("-o", "--output", help="Output folder (resumable).")]
_Mode = Annotated[str, typer.Option(help="predict | probe | exhaustive.")]
_Codec = Annotated[str, typer.Option(help="Encoder backend.")]
_Preset = Annotated[
    str | None,
    typer.Option(help="Encoder preset (default: the backend's, e.g. x265 veryfast, NVENC p5)."),
]
_Heights = Annotated[str, typer.Option(help="Candidate heights.")]
_TopVmaf = Annotated[float, typer.Option(help="VMAF of the top rung.")]
_FloorVmaf = Annotated[float, typer.Option(help="VMAF of the bottom rung.")]
_MaxRungs = Annotated[int, typer.Option(help="Most rungs.")]
_MinStepVmaf = Annotated[
    float,
    typer.Option(help="Least VMAF between neighbouring rungs (3: half a JND; 6 keeps a JND)."),
]
_MaxRateRatio = Annotated[
    float,
    typer.Option(help="Most bitrate ratio between neighbouring rungs, kept where the hull allows."),
]
_AllowResolutionDips = Annotated[
    bool, typer.Option("--allow-resolution-dips", help="Let resolution fall as the bitrate rises.")
]
_Encode = Annotated[bool, typer.Option("--encode", help="Encode every rung.")]
_Validate = Annotated[bool, typer.Option("--validate", help="Encode and measure every rung.")]
_PerScene = Annotated[
    bool,
    typer.Option("--per-scene", help="A CRF per chunk (equal-slope allocation); needs --encode."),
]
_MinChunkS = Annotated[float, typer.Option(help="Scenes shorter than this join a neighbour.")]
_MaxChunkS = Annotated[float, typer.Option(help="Longest chunk (= HLS segment), seconds.")]
_SceneFloorVmaf = Annotated[
    float | None, typer.Option(help="Per-scene: no chunk predicted below this VMAF.")
]
_MaxSceneRateRatio = Annotated[
    float | None, typer.Option(help="Per-scene: most bitrate ratio between neighbouring chunks.")
]
_Vbv = Annotated[str, typer.Option(help="off | capped (maxrate = --vbv-ratio x bitrate).")]
_VbvRatio = Annotated[float, typer.Option(help="Capped CRF: maxrate over the rung bitrate.")]
_VbvBufferRatio = Annotated[float, typer.Option(help="Capped CRF: bufsize over maxrate.")]
_OpenLoop = Annotated[
    bool, typer.Option("--open-loop", help="Encode each rung once at its predicted CRF (no loop).")
]
_ProbeHeights = Annotated[int, typer.Option(help="Probe mode: heights probed, 2 or 3.")]
_ReplanHeights = Annotated[
    bool,
    typer.Option(
        "--replan-heights",
        help="Closed loop: after each rung's first encode, move rungs to the cheapest height.",
    ),
]
_RefillGaps = Annotated[
    bool,
    typer.Option(
        "--refill-gaps/--no-refill-gaps",
        help="Closed loop: add a rung where two measure more than --max-rate-ratio apart.",
    ),
]
_Tolerance = Annotated[
    float, typer.Option(help="Closed loop: ship a rung within this VMAF of its target.")
]
_MaxEncodes = Annotated[int, typer.Option(help="Closed loop: most encodes per rung.")]
_SegmentType = Annotated[str, typer.Option(help="HLS segments: fmp4 | mpegts.")]
_Model = Annotated[Path | None, typer.Option(help="Model file (default: the shipped model).")]
_Audio = Annotated[
    bool, typer.Option("--audio/--no-audio", help="Package the source's audio (AAC stereo).")
]
_AudioBitrateKbps = Annotated[int, typer.Option("--audio-bitrate", help="Audio kbps.")]
_WorkDir = Annotated[
    Path | None, typer.Option(help="Work files (probes, chunks, stores); default OUT/.work.")
]
_KeepWork = Annotated[
    bool, typer.Option("--keep-work", help="Keep a title's work files after it succeeded.")
]
_Workers = Annotated[
    int,
    typer.Option(
        "--workers", "-j", help="Parallel encodes (with --cluster local: worker processes)."
    ),
]
_Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Run the titles on this dask scheduler (tcp://host:port); OUT must be a folder "
        "every worker sees."
    ),
]
_Cluster = Annotated[
    str | None,
    typer.Option(help="local: start a dask LocalCluster of --workers processes on 127.0.0.1."),
]
_ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="A ladder.toml: any setting by its library name, [cost] prices."),
]
_CostFile = Annotated[
    Path | None,
    typer.Option("--cost", help="A cost.toml (prices with sources; default: the shipped one)."),
]
_Views = Annotated[
    float | None, typer.Option(help="Expected view-hours per title (default: the cost file's).")
]
_Lambda = Annotated[
    float | None,
    typer.Option(
        "--lambda",
        help="Choose rungs by value: view-weighted VMAF - LAMBDA x cost (VMAF-hours per USD).",
    ),
]
_Budget = Annotated[
    float | None,
    typer.Option("--budget", help="Choose rungs by value under this cost per title (USD)."),
]
_JsonOut = Annotated[
    bool, typer.Option("--json", help="A JSON summary on stdout (progress and notes on stderr).")
]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, table or notes.")]
_DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Say what would be encoded and its CPU estimate; encode nothing."
    ),
]
_Wait = Annotated[
    bool,
    typer.Option(
        "--wait", help="If another run holds the output folder, wait for it instead of failing."
    ),
]
_Fps = Annotated[
    str | None,
    typer.Option(
        help="Conform every title to this constant frame rate (e.g. 30, 30000/1001); "
        "default: a VFR source is conformed to the rate chosen from it."
    ),
]
_Timeout = Annotated[
    float,
    typer.Option("--timeout", help="Seconds any one ffmpeg run may take before it is killed."),
]
_Verbose = Annotated[bool, typer.Option("--verbose", "-v")]
_Tuned = Annotated[
    str | None,
    typer.Option(
        "--tuned",
        metavar="FILE|shipped",
        help="Encode with the tuned encoder parameters of each title's content class: FILE is "
        "a tuned.json from 'ladderforge tune'; 'shipped' the sets that ship with ladderforge.",
    ),
]
_Enhanced = Annotated[
    str | None,
    typer.Option(
        "--enhanced",
        metavar="MODEL|shipped",
        help="Measure every encoded rung with and without the enhancement stage (MODEL: a "
        "model file from 'ladderforge enhance train'; 'shipped': the packaged one); where the "
        "guard keeps the stage on, the rung is steered onto its VMAF as delivered after it "
        "(fewer bits). The ladder JSON flags those rungs; master.m3u8 stays the plain ladder. "
        "Needs --encode or --validate; pip install 'ladderforge[enhance]'.",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command("ladder")
    def ladder_cmd(
        ctx: typer.Context,
        output: _Output,
        sources: _Sources = None,
        manifest: _Manifest = None,
        mode: _Mode = "probe",
        codec: _Codec = "x265",
        preset: _Preset = None,
        heights: _Heights = ",".join(str(h) for h in DEFAULT_HEIGHTS),
        top_vmaf: _TopVmaf = _RULES.top_vmaf,
        floor_vmaf: _FloorVmaf = _RULES.floor_vmaf,
        max_rungs: _MaxRungs = _RULES.max_rungs,
        min_step_vmaf: _MinStepVmaf = _RULES.min_step_vmaf,
        max_rate_ratio: _MaxRateRatio = _RULES.max_rate_ratio,
        allow_resolution_dips: _AllowResolutionDips = False,
        encode: _Encode = False,
        validate: _Validate = False,
        per_scene: _PerScene = False,
        min_chunk_s: _MinChunkS = 1.0,
        max_chunk_s: _MaxChunkS = 6.0,
        scene_floor_vmaf: _SceneFloorVmaf = None,
        max_scene_rate_ratio: _MaxSceneRateRatio = None,
        vbv: _Vbv = "off",
        vbv_ratio: _VbvRatio = 1.5,
        vbv_buffer_ratio: _VbvBufferRatio = 2.0,
        open_loop: _OpenLoop = False,
        probe_heights: _ProbeHeights = 2,
        replan_heights: _ReplanHeights = False,
        refill_gaps: _RefillGaps = True,
        tolerance: _Tolerance = 0.75,
        max_encodes: _MaxEncodes = 3,
        segment_type: _SegmentType = "fmp4",
        model: _Model = None,
        audio: _Audio = True,
        audio_bitrate_kbps: _AudioBitrateKbps = 128,
        work_dir: _WorkDir = None,
        keep_work: _KeepWork = False,
        workers: _Workers = 1,
        tuned: _Tuned = None,
        enhanced: _Enhanced = None,
        scheduler: _Scheduler = None,
        cluster: _Cluster = None,
        fps: _Fps = None,
        timeout: _Timeout = DEFAULT_TIMEOUT_S,
        config_file: _ConfigFile = None,
        cost_file: _CostFile = None,
        views: _Views = None,
        cost_lambda: _Lambda = None,
        budget_usd: _Budget = None,
        json_out: _JsonOut = False,
        quiet: _Quiet = False,
        dry_run: _DryRun = False,
        wait: _Wait = False,
        verbose: _Verbose = False,
    ) -> None:
        """Choose a ladder per title. OUT/<title>/ gets what ships: <title>.ladder.json and, with
        --encode, every rung in scene-aligned chunks (IDR frames at the same places in every
        rung) as HLS + DASH (master.m3u8, manifest.mpd, <rung>/ segments) with the audio;
        a plan without --encode gets master.plan.m3u8. Work files go to OUT/.work (removed
        after success). A failing title is reported at the end (exit code 3). One run at a
        time per OUT: a second one fails at once, or queues with --wait."""
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
        from ladderforge.run import make_executor

        executor = guarded(
            lambda: make_executor(scheduler=scheduler, cluster=cluster, workers=workers),
            verbose=verbose,
        )
        with executor:
            if executor.dashboard_link and not quiet:
                err_console.print(f"dask dashboard: {executor.dashboard_link}", highlight=False)
            _run(
                titles,
                output,
                config,
                executor=executor,
                wait=wait,
                verbose=verbose,
                quiet=quiet,
                as_json=json_out,
            )


_NOT_CONFIG = {
    "ctx",
    "sources", "manifest", "output", "verbose", "config_file", "json_out", "quiet", "dry_run",
    "wait", "scheduler", "cluster", "cost_file",
}  # fmt: skip
_RENAMED = {"model": "model_path", "timeout": "timeout_s"}
"""CLI option -> LadderConfig field, where the names differ."""


def _config(options: dict[str, Any], ctx: typer.Context) -> LadderConfig:
    """The library's config from the command's options (flags map 1:1 onto its fields), over
    the ``--config`` file's settings: a flag given on the command line wins over the file."""
    from ladderforge.jobs.config import LadderConfig
    from ladderforge.jobs.settings_file import read_settings

    values = read_settings(options["config_file"]) if options["config_file"] else {}
    if options["cost_file"] is not None:
        from ladderforge.policy.cost_file import load_cost_file

        values["cost"] = load_cost_file(options["cost_file"]).model

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")

    for name, value in options.items():
        field = _RENAMED.get(name, name)
        if name in _NOT_CONFIG or (field in values and not given(name)):
            continue
        if name == "heights":
            value = parse_heights(value)
        elif name == "tuned" and value is not None:
            value = _tuned_path(value)
        values[field] = value
    return LadderConfig(**values)


def _tuned_path(value: str) -> Path:
    """``--tuned shipped`` means the sets that ship with the package; otherwise the file given.
    (typer's parser has no option with an optional value, so the shipped sets have a name.)"""
    if value == "shipped":
        from ladderforge.jobs.tuned import SHIPPED_TUNED_SETS

        return SHIPPED_TUNED_SETS
    return Path(value)


def _run(
    titles: list[TitleSource],
    output: Path,
    config: LadderConfig,
    *,
    executor: Executor,
    wait: bool,
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
            lambda: run_batch(
                titles,
                output,
                config=config,
                wait=wait,
                on_stage=stage,
                on_title_done=done,
                executor=executor,
            ),
            verbose=verbose,
        )
    if as_json:
        typer.echo(report_json(report, output))
    print_report(report, quiet=quiet or as_json)
    if report.failures:
        for src, message in report.failures.items():
            line = message if message.startswith(src) else f"{src}: {message}"  # path once
            err_console.print(f"[red]failed:[/] {line}", highlight=False)
        raise typer.Exit(EXIT_PARTIAL)
