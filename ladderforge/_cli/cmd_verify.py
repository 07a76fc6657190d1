"""``ladderforge verify``: check a produced ladder folder (frames, keyframes, playlists, VMAF)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ladderforge._cli.common import console, guarded, print_table, progress_bar

EXIT_FAILED_CHECKS = 1


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_cmd(
        output: Path = typer.Argument(..., help="The output folder of 'ladderforge ladder'."),
        vmaf: bool = typer.Option(True, "--vmaf/--no-vmaf", help="Re-measure VMAF per rung."),
        vmaf_tolerance: float = typer.Option(
            0.5, help="Largest allowed difference from the ladder's measured VMAF."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Check every encoded ladder in OUTPUT: frame counts, IDR keyframes aligned across
        rungs, HLS playlists and segments, measured VMAF against the ladder JSON. Exit code 1
        when a check fails."""
        from ladderforge.jobs.verify import verify_output

        with progress_bar(transient=True) as bars:
            task = bars.add_task("verifying", total=None)
            checks = guarded(
                lambda: verify_output(
                    output,
                    vmaf=vmaf,
                    vmaf_tolerance=vmaf_tolerance,
                    on_stage=lambda s: bars.update(task, description=s),
                ),
                verbose=verbose,
            )
        table = Table("title", "rung", "check", "result", "detail")
        for c in checks:
            verdict = "[green]ok[/]" if c.ok else "[red]FAILED[/]"
            table.add_row(c.title, c.rung or "(all)", c.what, verdict, c.detail)
        print_table(table)
        failed = [c for c in checks if not c.ok]
        console.print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
        if failed:
            raise typer.Exit(EXIT_FAILED_CHECKS)
