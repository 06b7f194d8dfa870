"""``publish``: one record per variant in, one verified multi-platform tag out.

The steps (:mod:`.run`: match records to the spec, create the index, verify it, clean up)
and what they answer (:mod:`.result`).
"""
