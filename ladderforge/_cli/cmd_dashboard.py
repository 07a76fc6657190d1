"""``ladderforge dashboard``: the A/B cost report of two output folders (one HTML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ladderforge._cli.common import console, guarded

_FolderA = Annotated[Path, typer.Argument(help="Output folder of strategy A (the baseline).")]
_FolderB = Annotated[Path, typer.Argument(help="Output folder of strategy B.")]
_Output = Annotated[Path, typer.Option("-o", "--output", help="The report (.html).")]
_Cost = Annotated[
    Path | None, typer.Option("--cost", help="A cost.toml (default: the shipped, sourced one).")
]
_Tables = Annotated[
    Path | None,
    typer.Option("--tables", help="Also write titles/rungs tables as CSV and parquet here."),
]
_Name = Annotated[str | None, typer.Option(help="Name shown for the strategy (default: folder).")]


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard_cmd(
        folder_a: _FolderA,
        folder_b: _FolderB,
        output: _Output,
        cost: _Cost = None,
        tables: _Tables = None,
        name_a: _Name = None,
        name_b: _Name = None,
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Compare two strategies' ladders (the ladder JSONs of two output folders, paired by
        title) on bitrate, storage, egress and compute cost, view-weighted VMAF and VMAF NEG.
        Writes one self-contained HTML file (no network needed) whose cost assumptions can be
        edited in the page."""
        from ladderforge.dashboard import compare_folders, write_report

        cmp = guarded(
            lambda: compare_folders(
                folder_a, folder_b, cost_path=cost, name_a=name_a, name_b=name_b
            ),
            verbose=verbose,
        )
        path = guarded(lambda: write_report(cmp, output, tables_dir=tables), verbose=verbose)
        size_mb = path.stat().st_size / 1e6
        console.print(f"{len(cmp.titles)} titles compared; report: {path} ({size_mb:.1f} MB)")
        for note in cmp.notes:
            console.print(f"[yellow]note:[/] {note}", highlight=False)
