"""Entry point of the ``ladderforge`` command: one typer app, one module per command."""

from __future__ import annotations

import importlib

import typer

from ladderforge import __version__

app = typer.Typer(
    name="ladderforge",
    help="Smart transcoding: analyse, predict, choose ladders, encode, and prove it with VMAF.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines register(app). Add a command by adding its module here.
COMMAND_MODULES = [
    "ladderforge._cli.cmd_doctor",
    "ladderforge._cli.cmd_probe",
    "ladderforge._cli.cmd_analyze",
    "ladderforge._cli.cmd_measure",
    "ladderforge._cli.cmd_sweep",
    "ladderforge._cli.cmd_ladder",
    "ladderforge._cli.cmd_target",
    "ladderforge._cli.cmd_tune",
    "ladderforge._cli.cmd_verify",
    "ladderforge._cli.cmd_enhance",
    "ladderforge._cli.cmd_demo",
    "ladderforge._cli.cmd_dashboard",
    "ladderforge._cli.cmd_compare",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ladderforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """ladderforge: per-title and per-scene encoding ladders, proved with real VMAF."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console-script entry point."""
    app()
