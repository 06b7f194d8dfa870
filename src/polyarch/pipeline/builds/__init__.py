"""``build``: each variant built by its own builder, pushed, resolved and recorded.

What is asked and answered (:mod:`.request`), the builders' command lines
(:mod:`.commands`), and building the variants (:mod:`.variants`).
"""
