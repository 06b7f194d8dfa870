"""``python -m polyarch``: the same as the ``polyarch`` command."""

from polyarch.cli.main import run

run()
