"""``ladderforge tune``: encoder-knob studies per content class; writes OUT/tuned.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ladderforge._cli.cmd_sweep import parse_crfs
from ladderforge._cli.common import err_console, guarded, print_table, progress_bar
from ladderforge.jobs.defaults import TUNE_DEFAULTS as _D

if TYPE_CHECKING:
    from ladderforge.jobs.tune import TuneReport

_CRFS = ",".join(f"{c:g}" for c in _D.crfs)
_Sources = Annotated[list[Path], typer.Argument(help="Source videos (the training titles).")]
_Output = Annotated[
    Path, typer.Option("-o", "--output", help="Output folder: tuned.json; .work/ (resumable).")
]


def register(app: typer.Typer) -> None:
    @app.command("tune")
    def tune_cmd(
        sources: _Sources,
        output: _Output,
        codec: str = typer.Option("x265", help="Encoder backend whose knobs are tuned."),
        preset: str = typer.Option(None, help="Preset tuned on top of (default: the backend's)."),
        trials: int = typer.Option(_D.trials, help="Finished trials per content-class study."),
        crf: str = typer.Option(_CRFS, "--crf", help="CRF grid of every trial."),
        segment_s: float = typer.Option(_D.segment_s, help="Seconds per representative segment."),
        segments_per_title: int = typer.Option(1, help="Segments per title (by complexity)."),
        freeze: str = typer.Option(
            "",
            help="Knobs left at the preset's value, by study name, comma-separated (aq-mode: "
            "aq-strength goes too; deblock-tc: deblock-beta too).",
        ),
        max_titles_per_class: int = typer.Option(
            0, help="Study at most N titles of each class, spread along its axis (0: all)."
        ),
        max_height: int = typer.Option(
            _D.max_height, help="Segments scaled down to this height (0: no)."
        ),
        subsample: int = typer.Option(1, help="Measure every n-th frame."),
        sampler: str = typer.Option("nsga2", help="nsga2 | tpe."),
        seed: int = typer.Option(0, help="Sampler seed."),
        max_cpu_ratio: float = typer.Option(
            _D.max_cpu_ratio, help="CPU budget of a tuned set vs default."
        ),
        prune_rate_delta_pct: float = typer.Option(
            _D.prune_rate_delta_pct,
            help="Prune a trial whose first CRF point needs this % more bits at equal VMAF.",
        ),
        workers: int = typer.Option(1, "--workers", "-j", help="Parallel encodes in a trial."),
        work_dir: Path = typer.Option(None, help="Work folder (default OUT/.work)."),
        json_out: bool = typer.Option(False, "--json", help="The tuned sets as JSON on stdout."),
        wait: bool = typer.Option(False, "--wait", help="Wait for another run on OUT to end."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="ffmpeg commands on errors."),
    ) -> None:
        """Tune encoder knobs per content class with optuna (bits at equal VMAF vs encode CPU
        time), on short segments of SOURCES. A set is kept only if it gains on VMAF and loses
        no more than the stated margin on VMAF NEG and PSNR-Y. Writes OUT/tuned.json for
        'ladder --tuned OUT/tuned.json'. A killed run resumes where it stopped."""
        import optuna

        from ladderforge.jobs.tune import TuneConfig, TuneEvent, tune

        # optuna's own handler prints every trial on stderr; the progress bar says enough
        optuna.logging.set_verbosity(optuna.logging.WARNING)

        config = guarded(
            lambda: TuneConfig(
                codec=codec,
                preset=preset,
                trials=trials,
                crfs=parse_crfs(crf),
                segment_s=segment_s,
                segments_per_title=segments_per_title,
                max_titles_per_class=max_titles_per_class or None,
                freeze=tuple(k.strip() for k in freeze.split(",") if k.strip()),
                max_height=max_height or None,
                n_subsample=subsample,
                sampler=sampler,
                seed=seed,
                max_cpu_ratio=max_cpu_ratio,
                prune_rate_delta_pct=prune_rate_delta_pct,
                workers=workers,
                work_dir=work_dir,
            ),
            verbose=verbose,
        )
        with progress_bar(disable=json_out) as bars:
            task = bars.add_task("tuning", total=None)

            def event(e: TuneEvent) -> None:
                bars.update(task, description=f"{e.content_class}: trial {e.trial} {e.state}",
                            completed=e.done, total=e.total)  # fmt: skip

            def stage(what: str) -> None:
                bars.update(task, description=what)

            report = guarded(
                lambda: tune(
                    sources, output, config=config, wait=wait, on_event=event, on_stage=stage
                ),
                verbose=verbose,
            )
        if json_out:
            typer.echo(json.dumps(report.sets.to_dict(), indent=2))
        else:
            _print(report)
        for src, message in report.failures.items():
            err_console.print(f"[red]left out:[/] {src}: {message}", highlight=False)


def _print(report: TuneReport) -> None:
    table = Table(title=f"tuned sets ({report.path})")
    for name in ("class", "accepted", "BD VMAF %", "BD NEG %", "BD PSNR-Y %", "CPU x", "params"):
        table.add_column(name)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:+.2f}"

    for s in report.sets.sets:
        params = ":".join(f"{k}={v}" for k, v in s.params) or s.note
        cpu = "-" if s.cpu_ratio is None else f"{s.cpu_ratio:.2f}"
        figures = (s.bd_rate_vmaf_pct, s.bd_rate_vmaf_neg_pct, s.bd_rate_psnr_y_pct)
        accepted = "yes" if s.accepted else "no"
        table.add_row(s.content_class, accepted, *(pct(f) for f in figures), cpu, params)
    print_table(table)
    runs = ", ".join(
        f"{c}: {report.trials_run[c]} run, {report.trials_resumed.get(c, 0)} resumed"
        for c in report.trials_run
    )
    err_console.print(
        f"trials {runs}; encodes {report.encodes_run} run, {report.encodes_reused} reused",
        highlight=False,
    )
