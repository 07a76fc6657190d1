"""``ladderforge dashboard``: the A/B cost report of two output folders (one HTML file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ladderforge._cli.common import console, guarded

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

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
_Serve = Annotated[
    bool,
    typer.Option(
        "--serve", help="Serve the report on 127.0.0.1 and reload it as the folders change."
    ),
]
_Port = Annotated[int, typer.Option(help="--serve: the port on 127.0.0.1.")]


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
        serve: _Serve = False,
        port: _Port = 8765,
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
        if serve:
            _serve(folder_a, folder_b, cost, name_a, name_b, port, verbose)


def _serve(
    folder_a: Path,
    folder_b: Path,
    cost: Path | None,
    name_a: str | None,
    name_b: str | None,
    port: int,
    verbose: bool,
) -> None:
    from ladderforge.dashboard.serve import make_server
    from ladderforge.errors import OutputError

    def start() -> ThreadingHTTPServer:
        try:
            return make_server(
                folder_a, folder_b, cost_path=cost, name_a=name_a, name_b=name_b, port=port
            )
        except OSError as exc:
            raise OutputError(
                f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); try --port"
            ) from exc

    server = guarded(start, verbose=verbose)
    console.print(f"serving on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
