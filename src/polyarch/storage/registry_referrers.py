"""The OCI 1.1 referrers API of a registry: ``GET /v2/<name>/referrers/<digest>``.

Per the distribution spec ("Listing Referrers"): a registry with the API answers 200
with an image index (never 404); ``?artifactType=`` asks it to filter, and the
``OCI-Filters-Applied: artifactType`` header says it did (else we filter ourselves);
a long list comes in pages linked by ``Link: <url>; rel="next"``. A 404 means the
registry has no API (distribution 2.8 among them): then the referrers tag schema is
read instead (:mod:`polyarch.storage.referrers_tag`), as the spec requires of clients.
Registries that answer an unknown route with 400, 405 or 501 instead of 404 are taken
as having no API too (our digest is always valid, so a 400 cannot mean a bad one).
Whether a registry has the API is asked once per repository object and remembered.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from polyarch import mediatype
from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import InvalidManifest, RegistryError
from polyarch.manifest import Index, parse_manifest
from polyarch.storage.referrers_tag import read_tag_schema

if TYPE_CHECKING:
    from polyarch.storage.registry import RegistryRepository

__all__ = ["MAX_REFERRER_PAGES", "api_available", "list_referrers"]

#: Hard stop for ``Link`` pagination of one referrers list.
MAX_REFERRER_PAGES = 1000

#: First-page answers that mean "no referrers API here" (404 is the spec's).
_NO_API = (404, 400, 405, 501)
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_KNOWN: weakref.WeakKeyDictionary[RegistryRepository, bool] = weakref.WeakKeyDictionary()


def _api_list(
    repo: RegistryRepository, digest: Digest, artifact_type: str | None
) -> list[Descriptor] | None:
    """The API's answer, every page; None when the registry answered 404 (no API)."""
    path = f"/v2/{repo.repository}/referrers/{digest}"
    if artifact_type:
        path += "?artifactType=" + quote(artifact_type, safe="")
    url: str | None = repo._absolute(path)
    seen: set[tuple[str, str]] = set()
    found: list[Descriptor] = []
    what = f"referrers of {repo.name}@{digest}"
    while url is not None:
        page_key = urlsplit(url)[2:4]
        if page_key in seen or len(seen) >= MAX_REFERRER_PAGES:
            raise RegistryError(f"{what}: pagination does not end (page {url!r} repeats)")
        response = repo.client.request_url(
            "GET",
            url,
            registry=repo.registry,
            scopes=repo._pull,
            headers={"Accept": mediatype.OCI_INDEX},
            expect=(200, *_NO_API),
            what=f"GET {what}",
        )
        if response.status_code != 200:
            if seen:  # a later page failed: the list would be incomplete, say so
                raise RegistryError(f"{what}: page {url!r} answered {response.status_code}")
            return None
        seen.add(page_key)
        page = parse_manifest(response.content, mediatype.OCI_INDEX, what=what)
        if not isinstance(page, Index):
            raise InvalidManifest(f"{what}: the registry answered with an image manifest")
        applied = {f.strip() for f in response.headers.get("OCI-Filters-Applied", "").split(",")}
        for d in page.manifests:
            # A registry that did not apply the filter returns everything: filter here.
            if artifact_type and "artifactType" not in applied and d.artifact_type != artifact_type:
                continue
            found.append(d)
        match = _LINK_RE.search(response.headers.get("Link", ""))
        url = repo._absolute(match.group(1)) if match else None
    return found


def api_available(repo: RegistryRepository) -> bool:
    """Whether the registry answers the referrers API for ``repo`` (asked once)."""
    known = _KNOWN.get(repo)
    if known is None:
        probe = Digest.of(b"")  # any valid digest: an API answers 200 with an empty list
        known = _api_list(repo, probe, None) is not None
        _KNOWN[repo] = known
    return known


def list_referrers(
    repo: RegistryRepository, digest: Digest, artifact_type: str | None = None
) -> list[Descriptor]:
    """The referrers of ``digest``: the API when the registry has it, else the tag schema."""
    if _KNOWN.get(repo) is not False:
        answer = _api_list(repo, digest, artifact_type)
        _KNOWN[repo] = answer is not None
        if answer is not None:
            return answer
    return read_tag_schema(repo, digest, artifact_type)
