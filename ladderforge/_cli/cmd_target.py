"""``ladderforge target``: encode a clip at the CRF that hits a target VMAF (a CRF search)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ladderforge._cli.common import console, guarded, print_table, progress_bar


def register(app: typer.Typer) -> None:
    @app.command("target")
    def target_cmd(
        source: Path = typer.Argument(..., help="Source video."),
        vmaf: float = typer.Option(..., "--vmaf", help="Target mean VMAF of the whole encode."),
        output: Path = typer.Option(..., "-o", "--output", help="The encode to write (.mp4)."),
        codec: str = typer.Option("x265", help="Encoder backend."),
        preset: str = typer.Option(None, help="Encoder preset (default: the backend's)."),
        height: int = typer.Option(None, help="Output height (default: the source's)."),
        tolerance: float = typer.Option(0.75, help="Hit the target within this VMAF."),
        max_encodes: int = typer.Option(3, help="Most encodes of the search."),
        samples: int = typer.Option(
            0, help="Search on N short samples chosen by the analysis, then encode once."
        ),
        model: Path = typer.Option(None, help="Model file (default: the backend's shipped)."),
        json_out: Path = typer.Option(None, "--json", help="Also write the result as JSON."),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Search the CRF whose encode of SOURCE measures --vmaf (VMAF v0.6.1, whole file,
        against the source on its grid), write that encode, report CRF, VMAF, kbps and the
        encodes it took. With --samples, also the samples' VMAF minus the whole file's."""
        from ladderforge.jobs.target import target_encode

        with progress_bar() as bars:
            task = bars.add_task("target", total=None)
            result = guarded(
                lambda: target_encode(
                    source,
                    output,
                    vmaf=vmaf,
                    codec=codec,
                    preset=preset,
                    height=height,
                    tolerance=tolerance,
                    max_encodes=max_encodes,
                    samples=samples,
                    model_path=model,
                    on_stage=lambda s: bars.update(task, description=s),
                ),
                verbose=verbose,
            )
        table = Table("attempt", "q", "vmaf", "kbps", "cpu s")
        for i, a in enumerate(result.sample_attempts, 1):
            table.add_row(
                f"samples {i}", f"{a.q:g}", f"{a.vmaf:.2f}", f"{a.kbps:.0f}", f"{a.cpu_s:.1f}"
            )
        for i, a in enumerate(result.attempts, 1):
            table.add_row(
                f"whole {i}", f"{a.q:g}", f"{a.vmaf:.2f}", f"{a.kbps:.0f}", f"{a.cpu_s:.1f}"
            )
        print_table(table)
        verdict = "within" if result.within_tolerance else "[yellow]MISSED[/]"
        console.print(
            f"{result.output_path}: q {result.q:g}, VMAF {result.vmaf:.2f} ({verdict} "
            f"{vmaf:g} +- {tolerance:g}), {result.bitrate_kbps:.0f} kbps, "
            f"{result.encodes} whole encode(s); first guess: {result.first_guess}",
            highlight=False,
        )
        if result.sample_error is not None:
            console.print(
                f"samples {result.sample_vmaf:.2f} vs whole {result.vmaf:.2f}: "
                f"sample error {result.sample_error:+.2f} VMAF",
                highlight=False,
            )
        if json_out is not None:
            json_out.write_text(json.dumps(result.to_dict(), indent=1))
