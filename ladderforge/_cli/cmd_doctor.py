"""``ladderforge doctor``: which ffmpeg, which encoders really open, which VMAF models load."""

from __future__ import annotations

import typer
from rich.table import Table

from ladderforge._cli.common import EXIT_ERROR, console, guarded, print_table
from ladderforge.media.capabilities import VMAF_MODELS


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        refresh: bool = typer.Option(False, "--refresh", help="Ignore the cached answers."),
    ) -> None:
        """Check the toolchain by trying it: one-frame encodes, one libvmaf run per model."""
        from ladderforge.encoder import BACKENDS, capabilities

        caps = guarded(lambda: capabilities(refresh=refresh))
        console.print(f"ffmpeg: {caps.ffmpeg}\nversion: {caps.version}")
        table = Table("component", "available", "note")
        for name, backend in BACKENDS.items():
            ok = caps.encoders.get(name, False)
            table.add_row(
                f"encoder {name} ({backend.ffmpeg_encoder})",
                _yes(ok),
                caps.encoder_errors.get(name, ""),
            )
        table.add_row("filter libvmaf", _yes(caps.libvmaf), "")
        for metric, opts in VMAF_MODELS.items():
            table.add_row(
                f"vmaf model {metric}",
                _yes(caps.vmaf_models.get(metric, False)),
                opts.replace("\\:", ":"),
            )
        table.add_row("filter xpsnr", _yes(caps.xpsnr), "")
        print_table(table)
        if not (caps.libvmaf and caps.encoders.get("x265")):
            console.print(
                "[red]ladderforge needs libvmaf and libx265: set LADDERFORGE_FFMPEG to "
                "an ffmpeg built with both, or pip install imageio-ffmpeg.[/]"
            )
            raise typer.Exit(EXIT_ERROR)


def _yes(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"
