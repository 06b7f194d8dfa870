"""The operations floor: one room per verb, each a function of a request and a Context.

``inspect``, ``resolve``, ``config``, ``tags``, ``delete``, ``login``/``logout``,
``copy``, ``create`` (a package: request, plan, publish, result) and ``verify`` (a
package: one module per family of checks). A verb uses the content floor for what it
shares with other verbs, and may call another verb's public function (``config``
resolves first). Public names are re-exported by :mod:`polyarch`.
"""
