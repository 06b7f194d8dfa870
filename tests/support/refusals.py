"""What registries stricter than distribution 2.8 refuse, as rules for :class:`GateProxy`.

Each rule answers exactly what the named registry answers (status, error code, message),
in front of the real registry (CNCF distribution 2.8), which does everything else:

* :func:`tag_page_cap`: CNCF distribution 3.1.0 with ``tags: maxtags: N`` (default 1000)
  answers ``GET /v2/NAME/tags/list?n=M`` with ``400 PAGINATION_NUMBER_INVALID`` when
  ``M > N``, when ``M`` is negative and when it is not an integer (then the detail says
  ``"n": 0``, what Go's ``strconv.Atoi`` leaves); without ``n`` it lists every tag.
  Source: distribution v3.1.0 ``registry/handlers/tags.go`` ``GetTags`` and
  ``registry/api/errcode/register.go`` (``ErrorCodePaginationNumberInvalid``); reported in
  distribution/distribution#4844, changed to clamping in v3.1.1 (#4856).
* :func:`immutable_tags`: a ``PUT /v2/NAME/manifests/TAG`` of a tag that exists already
  is refused, whatever it would point at (a re-push of the same manifest too), as

  - Amazon ECR with ``imageTagMutability: IMMUTABLE``: ``400 TAG_INVALID`` "The image tag
    'T' already exists in the 'R' repository and cannot be overwritten because the tag is
    immutable." (moby/buildkit#3776, osscontainertools/kaniko#204, aws/containers-roadmap#862
    for the older wording "because the repository is immutable");
  - Harbor with a tag immutability rule: ``412 PRECONDITION`` "Failed to process request due
    to 'R:T' configured as immutable." (goharbor/harbor ``src/server/middleware/immutable/
    pushmf.go`` and ``error.go``; ``PRECONDITION`` maps to 412 in ``src/server/error``).
* :func:`tag_list_refused`: ``GET /v2/NAME/tags/list`` refused while manifests and blobs are
  served: ``401 UNAUTHORIZED`` with a Basic challenge to requests without credentials (a
  registry that serves anonymous pulls by digest or tag but lists tags only to users), or
  ``403 DENIED`` to everyone (a robot account with push/pull but without the tag-list
  permission, as Harbor robot accounts are configured per resource and action).

Every rule passes what it does not refuse on to the real registry unchanged.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable
from typing import Literal

from support.gateproxy import Action, Refuse, Rule, Seen

__all__ = [
    "ECR_TAG_INVALID",
    "HARBOR_PRECONDITION",
    "Flavour",
    "immutable_tags",
    "pagination_number_invalid",
    "tag_list_refused",
    "tag_page_cap",
]

_TAGS_LIST = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_JSON = {"Content-Type": "application/json; charset=utf-8"}
#: Every manifest type: distribution 2.8 answers 404 for an index a client does not accept.
_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)

#: The code and the message template of ECR's refusal (``{tag}``, ``{repository}``).
ECR_TAG_INVALID = (
    "TAG_INVALID",
    "The image tag '{tag}' already exists in the '{repository}' repository and cannot be "
    "overwritten because the tag is immutable.",
)
#: Harbor's (``{repository}`` is the name inside the project, as Harbor's ParseRepository).
HARBOR_PRECONDITION = (
    "PRECONDITION",
    "Failed to process request due to '{repository}:{tag}' configured as immutable.",
)

Flavour = Literal["ecr", "harbor"]


def _errors(code: str, message: str, detail: object = None) -> bytes:
    error: dict[str, object] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    # Go's json.Encoder ends the document with a newline.
    return (json.dumps({"errors": [error]}, separators=(",", ":")) + "\n").encode()


def pagination_number_invalid(n: int) -> Refuse:
    """distribution 3.1.0's answer to a tag list page size it refuses."""
    return Refuse(
        400,
        {"Content-Type": "application/json", "Docker-Distribution-Api-Version": "registry/2.0"},
        _errors("PAGINATION_NUMBER_INVALID", "invalid number of results requested", {"n": n}),
    )


def tag_page_cap(maxtags: int = 100) -> Rule:
    """distribution 3.1.0 with ``tags: maxtags: maxtags``: an ``n`` over it is a 400.

    Pages of at most ``maxtags`` are served by the real registry, ``Link`` headers included.
    """

    def rule(seen: Seen) -> Action | None:
        if seen.method != "GET" or not _TAGS_LIST.match(seen.path):
            return None
        given = seen.params("n")
        if not given or given[0] == "":
            return None  # no n: every tag, one page (v3.1.0 limit -1)
        try:
            n = int(given[0])
        except ValueError:
            return pagination_number_invalid(0)
        if n < 0 or n > maxtags:
            return pagination_number_invalid(n)
        return None

    return rule


def _tag_exists(upstream: str, name: str, tag: str, headers: dict[str, str]) -> bool:
    host, _, port = upstream.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        ask = {"Host": upstream, "Accept": _ACCEPT}
        if "authorization" in headers:
            ask["Authorization"] = headers["authorization"]
        conn.request("HEAD", f"/v2/{name}/manifests/{tag}", headers=ask)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    finally:
        conn.close()


def immutable_tags(
    upstream: str,
    flavour: Flavour = "ecr",
    *,
    protected: Callable[[str], bool] = lambda tag: True,
) -> Rule:
    """Refuse a manifest ``PUT`` to an existing tag for which ``protected(tag)`` holds.

    ``upstream`` is the real registry (``host:port``), asked whether the tag exists.
    Pushes by digest and pushes of new tags pass.
    """

    def rule(seen: Seen) -> Action | None:
        if seen.method != "PUT":
            return None
        found = _MANIFEST.match(seen.path)
        if found is None or ":" in found["ref"]:
            return None
        name, tag = found["name"], found["ref"]
        if not protected(tag) or not _tag_exists(upstream, name, tag, seen.headers):
            return None
        if flavour == "ecr":
            code, template = ECR_TAG_INVALID
            status = 400
            repository = name
        else:
            code, template = HARBOR_PRECONDITION
            status = 412
            repository = name.rpartition("/")[2]  # Harbor names it without the project
        message = template.format(tag=tag, repository=repository)
        return Refuse(status, _JSON, _errors(code, message))

    return rule


def tag_list_refused(*, anonymous_only: bool = True) -> Rule:
    """Refuse ``GET .../tags/list``: 401 without credentials, or (``anonymous_only=False``)
    403 ``DENIED`` to everyone."""

    def rule(seen: Seen) -> Action | None:
        if seen.method != "GET" or not _TAGS_LIST.match(seen.path):
            return None
        if anonymous_only:
            if "authorization" in seen.headers:
                return None
            return Refuse(
                401,
                {**_JSON, "WWW-Authenticate": 'Basic realm="registry"'},
                _errors("UNAUTHORIZED", "authentication required"),
            )
        return Refuse(403, _JSON, _errors("DENIED", "requested access to the resource is denied"))

    return rule
