"""``publish``: one record per variant in, one verified multi-platform tag out.

The records matched to the spec's variants (:mod:`.records`), the steps (:mod:`.run`:
create the index, verify it, clean up) and what they answer (:mod:`.result`).
"""
