"""``ladderforge compare``: strategies on the same titles, each into OUT/<name>/, then the A/B
report of the first two (OUT/report.html)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ladderforge._cli.common import console, guarded, progress_bar

if TYPE_CHECKING:
    from ladderforge.jobs.compare import Strategy

_Sources = Annotated[list[Path], typer.Argument(help="Source videos (titles).")]
_Output = Annotated[Path, typer.Option("-o", "--output", help="Output folder.")]
_Strategy = Annotated[
    list[str],
    typer.Option(
        "--strategy",
        help="apple | ladderforge[:key=value,...] (LadderConfig settings, e.g. "
        "ladderforge:mode=probe,per_scene=true); repeat it. The first is A, the second B.",
    ),
]
_Codec = Annotated[str, typer.Option(help="Encoder backend (every strategy).")]
_Preset = Annotated[str | None, typer.Option(help="Encoder preset (every strategy).")]
_Cost = Annotated[Path | None, typer.Option("--cost", help="A cost.toml (every strategy).")]
_Workers = Annotated[int, typer.Option("--workers", "-j", help="Parallel encodes.")]


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        sources: _Sources,
        output: _Output,
        strategy: _Strategy,
        codec: _Codec = "x265",
        preset: _Preset = None,
        cost: _Cost = None,
        workers: _Workers = 1,
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Run each strategy on the same titles with real encodes and VMAF (Apple's fixed
        ladder: two-pass at each row's bitrate; ladderforge: validated rungs), each into
        OUT/<name>/, with the same codec, preset and cost model; with two strategies or more,
        write the A/B report of the first two to OUT/report.html."""
        from ladderforge.dashboard import compare_folders, write_report
        from ladderforge.jobs.compare import parse_strategy, run_compare
        from ladderforge.policy.cost_file import load_cost_file

        def parse() -> list[Strategy]:
            parsed: list[Strategy] = []
            for spec in strategy:
                parsed.append(parse_strategy(spec, taken=[s.name for s in parsed]))
            return parsed

        strategies = guarded(parse, verbose=verbose)
        model = guarded(lambda: load_cost_file(cost).model, verbose=verbose)
        with progress_bar(transient=True) as bars:
            task = bars.add_task("comparing", total=None)

            def stage(title: str, what: str) -> None:
                bars.update(task, description=f"{title}: {what}")

            folders = guarded(
                lambda: run_compare(
                    sources, output, strategies, codec=codec, preset=preset, cost=model,
                    workers=workers, on_stage=stage,
                ),
                verbose=verbose,
            )  # fmt: skip
        for name, folder in folders.items():
            console.print(f"{name}: {folder}")
        if len(strategies) >= 2:
            a, b = strategies[0].name, strategies[1].name
            cmp = guarded(
                lambda: compare_folders(folders[a], folders[b], cost_path=cost), verbose=verbose
            )
            path = guarded(lambda: write_report(cmp, output / "report.html", tables_dir=None))
            console.print(f"dashboard: {path}")
