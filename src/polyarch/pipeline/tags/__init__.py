"""Tag families from a version, with docker/metadata-action's tag rules.

A spec's ``tags`` may hold metadata-action's rules (``type=semver,pattern={{version}}``,
``type=ref,event=branch``, ``type=sha``, ``type=raw,value=...``, ``type=edge``...) beside
plain tags; evaluated against a :class:`~polyarch.pipeline.version.RefContext` (the
version, the git ref, the commit) they give the tags to publish, in metadata-action's
order, with its ``latest`` rule.

* :mod:`.rules`: parsing a rule (``type=...,key=value`` in metadata-action's CSV syntax)
  and the ``flavor`` entries;
* :mod:`.template`: the Handlebars expressions a rule may hold (``{{version}}``,
  ``{{branch}}``, ``{{date 'YYYYMMDD'}}``...);
* :mod:`.semver`: node-semver's version grammar, as metadata-action reads a version;
* :mod:`.evaluate`: the rules and a ref in, the :class:`~.evaluate.TagFamily` out.

Where polyarch differs from metadata-action (unknown attributes and template names are
refused, output is not HTML-escaped, ``latest`` moves only to the highest release), the
module docstrings say so, and docs/release.md lists it.
"""
