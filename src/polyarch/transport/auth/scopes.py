"""Token scopes: which ones a request needs, and whether a token's scopes cover them.

Scopes follow the Docker token specification (distribution's ``docs/spec/auth/scope.md``):
``repository:<name>:<actions>``, actions ``pull``, ``push``, ``delete`` or ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl

import httpx

__all__ = ["SCOPES_EXTENSION", "covers", "parse_scope", "request_scopes", "scopes_for"]

#: Request extension holding the scopes a request needs (set by the client).
SCOPES_EXTENSION = "polyarch_scopes"

_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags|referrers)(?:/|$)")


def scopes_for(method: str, path: str, query: bytes | str = b"") -> list[str]:
    """The token scopes a request needs, derived from its path (``/v2/<name>/...``).

    Pull for GET/HEAD, pull and push for anything else; a cross-repository mount
    (``?mount=..&from=OTHER``) also needs pull on ``OTHER``; ``/v2/`` needs none.

    >>> scopes_for("PUT", "/v2/team/app/manifests/v1")
    ['repository:team/app:pull,push']
    >>> scopes_for("POST", "/v2/a/blobs/uploads/", "mount=sha256:x&from=b")
    ['repository:a:pull,push', 'repository:b:pull']
    """
    match = _REPO_PATH.match(path)
    if match is None:
        return []
    actions = "pull" if method.upper() in ("GET", "HEAD") else "pull,push"
    scopes = [f"repository:{match['name']}:{actions}"]
    text = query.decode("ascii", "replace") if isinstance(query, bytes) else query
    source = dict(parse_qsl(text)).get("from")
    if source and source != match["name"]:
        scopes.append(f"repository:{source}:pull")
    return scopes


def request_scopes(request: httpx.Request) -> tuple[str, ...]:
    """The scopes ``request`` needs: the ones the client set, else derived from its path."""
    given = request.extensions.get(SCOPES_EXTENSION)
    if given is not None:
        scopes: Sequence[str] = given
    else:
        scopes = scopes_for(request.method, request.url.path, request.url.query)
    return tuple(sorted(set(scopes)))


def parse_scope(scope: str) -> tuple[str, frozenset[str]]:
    """``repository:a/b:pull,push`` -> (``repository:a/b``, {pull, push})."""
    resource, sep, actions = scope.rpartition(":")
    if not sep:
        return scope, frozenset()
    return resource, frozenset(a for a in actions.split(",") if a)


def covers(granted: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether a token asked for ``granted`` scopes also serves ``wanted`` ones."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, actions = parse_scope(scope)
        have.setdefault(resource, set()).update(actions)
    for scope in wanted:
        resource, actions = parse_scope(scope)
        if resource not in have or not (actions <= have[resource] or "*" in have[resource]):
            return False
    return True
