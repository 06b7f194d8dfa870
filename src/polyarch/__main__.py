"""``python -m polyarch``: the same as the ``polyarch`` command."""

from polyarch.cli import run

run()
