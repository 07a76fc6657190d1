"""``ladderforge probe``: what a source file is."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import typer
from rich.table import Table

from ladderforge._cli.common import console, guarded, print_table
from ladderforge.media import probe


def register(app: typer.Typer) -> None:
    @app.command("probe")
    def probe_cmd(
        sources: list[Path] = typer.Argument(..., help="Video files to probe."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """Probe video files: size, frame rate, exact frame count, pixel format, colour."""
        infos = [guarded(partial(probe, s)) for s in sources]
        if as_json:
            console.print_json(json.dumps([i.to_dict() for i in infos]))
            return
        table = Table("file", "size", "fps", "frames", "duration", "pix_fmt", "codec", "colour")
        for i in infos:
            table.add_row(
                str(i.path),
                f"{i.width}x{i.height}",
                f"{float(i.frame_rate):.3f}",
                str(i.frame_count),
                f"{i.duration_s:.2f} s",
                i.pix_fmt,
                i.codec,
                f"{i.color_matrix}/{i.color_range}",
            )
        print_table(table)
