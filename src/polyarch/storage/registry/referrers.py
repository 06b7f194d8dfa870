"""The OCI 1.1 referrers API of a registry: ``GET /v2/<name>/referrers/<digest>``.

Per the distribution spec ("Listing Referrers"): a registry with the API answers 200
with an image index (never 404); ``?artifactType=`` asks it to filter, and the
``OCI-Filters-Applied: artifactType`` header says it did (else we filter ourselves);
a long list comes in pages linked by ``Link: <url>; rel="next"``. A 404 means the
registry has no API (distribution 2.8 among them): then the referrers tag schema is
read instead (:mod:`polyarch.storage.referrers_tag`), as the spec requires of clients.
Registries that answer an unknown route with 400, 405 or 501 instead of 404 are taken
as having no API too (our digest is always valid, so a 400 cannot mean a bad one).
Whether a registry has the API is asked once per :class:`ReferrersAPI` and remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, Manifest, parse_manifest
from polyarch.errors import InvalidManifest, RegistryError
from polyarch.storage.referrers_tag import read_tag_schema
from polyarch.storage.registry.endpoint import Endpoint
from polyarch.transport.limits import REFERRERS_PAGE_LIMIT

__all__ = ["ReferrersAPI"]

#: First-page answers that mean "no referrers API here" (404 is the spec's).
_NO_API = (404, 400, 405, 501)


class ReferrersAPI:
    """The referrers of one repository, reached at ``endpoint``: the API, else the tag schema.

    ``get_manifest`` reads the referrers tag schema index where the registry has no API
    (the repository's own :meth:`~polyarch.storage.repository.Repository.get_manifest`).
    """

    def __init__(self, endpoint: Endpoint, get_manifest: Callable[[str], Manifest]) -> None:
        self.endpoint = endpoint
        self._get_manifest = get_manifest
        #: Whether the registry has the API: unknown (None) until first asked.
        self._known: bool | None = None

    def available(self) -> bool:
        """Whether the registry answers the referrers API for this repository (asked once)."""
        if self._known is None:
            probe = Digest.of(b"")  # any valid digest: an API answers 200 with an empty list
            self._known = self._api_list(probe, None) is not None
        return self._known

    def find(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The referrers of ``digest``: the API when the registry has it, else the tag schema."""
        if self._known is not False:
            answer = self._api_list(digest, artifact_type)
            self._known = answer is not None
            if answer is not None:
                return answer
        return read_tag_schema(self._get_manifest, digest, artifact_type)

    def _api_list(self, digest: Digest, artifact_type: str | None) -> list[Descriptor] | None:
        """The API's answer, every page; None when the registry answered 404 (no API)."""
        path = self.endpoint.path("referrers", str(digest))
        if artifact_type:
            path += "?artifactType=" + quote(artifact_type, safe="")
        what = f"referrers of {self.endpoint.name}@{digest}"
        found: list[Descriptor] = []
        first = True
        for response in self.endpoint.pages(
            path,
            what=f"GET {what}",
            headers={"Accept": mediatype.OCI_INDEX},
            expect=(200, *_NO_API),
            body_limit=REFERRERS_PAGE_LIMIT,
            body_kind="a referrers page",
        ):
            if response.status_code != 200:
                if not first:  # a later page failed: the list would be incomplete, say so
                    raise RegistryError(
                        f"{what}: page {str(response.url)!r} answered {response.status_code}"
                    )
                return None
            first = False
            page = parse_manifest(response.content, mediatype.OCI_INDEX, what=what)
            if not isinstance(page, Index):
                raise InvalidManifest(f"{what}: the registry answered with an image manifest")
            applied = {
                f.strip() for f in response.headers.get("OCI-Filters-Applied", "").split(",")
            }
            for d in page.manifests:
                # A registry that did not apply the filter returns everything: filter here.
                if (
                    artifact_type
                    and "artifactType" not in applied
                    and d.artifact_type != artifact_type
                ):
                    continue
                found.append(d)
        return found
