"""Everything the CLI prints goes through here: consoles, tables, digests, sizes, JSON.

Only the CLI prints; library code returns values. One convention holds for every table
(``inspect``, ``verify``, ``build``, ``publish``, ``create``...):

* columns that identify something (a platform, a kind, a status, a check, a tag) are
  never cut and never wrapped;
* a digest is shortened on purpose to a fixed, recognisable prefix, ``sha256:`` and
  12 hex digits (docker's short ID, :attr:`polyarch.domain.digest.Digest.short`), or shown
  whole with ``--no-trunc`` (docker's flag); never cut anywhere else;
* free text (a check's detail, a container's output, a file path) wraps inside its
  column when the terminal is too narrow;
* when a row still does not fit, it wraps: the columns that do not fit go on an
  indented continuation line, under their own header, so nothing is ever cut.

On a terminal the width is the terminal's; off a terminal (a pipe, a CI log) it is
``$COLUMNS`` when set, otherwise rows are never wrapped.

Modules: :mod:`.output` (consoles, sizes, digests, JSON, key-value lines),
:mod:`.table` (the table layout), :mod:`.progress` (transfer progress on stderr).
"""
