"""One module per command, loaded only when its command runs (see ``cli/main.py``)."""
