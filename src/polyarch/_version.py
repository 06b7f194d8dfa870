"""The version, in one place: read by packaging (pyproject), the CLI and the User-Agent.

A literal rather than ``importlib.metadata``: looking the distribution up costs every
command ~30 ms of start-up.
"""

__version__ = "0.1.0"
