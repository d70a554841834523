"""``python -m fti`` runs the CLI."""

from fti.cli.main import main

main()
