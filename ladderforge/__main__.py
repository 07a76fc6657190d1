"""``python -m ladderforge`` runs the CLI."""

from ladderforge._cli.main import main

main()
