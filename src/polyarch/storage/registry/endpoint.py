"""One repository of one registry as the Distribution API addresses it.

The registry backend's parts (uploads, the tag list, the referrers API, the repository
itself) all speak to the same ``/v2/<name>/...`` routes through the same client with the
same token scopes: :class:`Endpoint` is that shared address, so no part needs the
repository class it serves.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from polyarch.errors import BlobUnknown, ManifestUnknown, NameUnknown, NotFound, RegistryError
from polyarch.transport.client import RegistryClient

__all__ = ["MAX_PAGES", "Endpoint"]

#: Hard stop for ``Link`` pagination, so a registry whose pages never end cannot hang us.
MAX_PAGES = 1000

_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _is_digest(identifier: str) -> bool:
    return ":" in identifier


@dataclass(frozen=True)
class Endpoint:
    """``registry``/``repository`` reached through ``client``: routes, scopes, names.

    >>> endpoint = Endpoint(RegistryClient(), "127.0.0.1:5000", "metrics-api")
    >>> endpoint.name, endpoint.path("manifests", "v1")
    ('127.0.0.1:5000/metrics-api', '/v2/metrics-api/manifests/v1')
    """

    client: RegistryClient
    registry: str
    repository: str
    name: str = field(init=False)
    #: Token scopes (distribution's token spec): pull; pull and push; delete.
    pull: list[str] = field(init=False)
    push: list[str] = field(init=False)
    delete: list[str] = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: derived fields are set once, here
        set_(self, "name", f"{self.registry}/{self.repository}")
        set_(self, "pull", [f"repository:{self.repository}:pull"])
        set_(self, "push", [f"repository:{self.repository}:pull,push"])
        set_(self, "delete", [f"repository:{self.repository}:delete"])

    def path(self, kind: str, identifier: object = "") -> str:
        """``/v2/<name>/<kind>/<identifier>``: a route of this repository."""
        return f"/v2/{self.repository}/{kind}/{identifier}"

    def absolute(self, location: str) -> str:
        """A ``Location`` or ``Link`` the registry handed out, as an absolute URL."""
        return urljoin(self.client.base_url(self.registry) + "/", location)

    def where(self, identifier: str) -> str:
        """How messages name a manifest here: ``name@digest`` or ``name:tag``."""
        sep = "@" if _is_digest(identifier) else ":"
        return f"{self.name}{sep}{identifier}"

    def not_found(self, exc: NotFound, where: str) -> NotFound:
        """The error for a 404 about ``where``: the repository, the blob, or the manifest."""
        if isinstance(exc, NameUnknown):
            return NameUnknown(
                f"repository {self.name} not found", hint="check the repository name"
            )
        if isinstance(exc, BlobUnknown):
            return exc
        return ManifestUnknown(
            f"manifest {where} not found", hint="check the tag or digest, or push the image first"
        )

    def pages(
        self,
        first: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (200,),
        body_limit: int,
        body_kind: str,
    ) -> Iterator[httpx.Response]:
        """GET ``first`` (a path or URL), then each ``Link: <url>; rel="next"`` page.

        Each page's body is read whole, at most ``body_limit`` bytes of ``body_kind``
        (:mod:`polyarch.transport.limits`).

        Pages are told apart by path and query (the scheme of the first URL may change
        once the client has decided between https and http); a registry that links back
        to a page already read, or past :data:`MAX_PAGES` pages, is stopped with a
        :class:`~polyarch.errors.RegistryError`. Each response is yielded as received
        (its status among ``expect``); the caller decides whether to go on.
        """
        url: str | None = self.absolute(first)
        seen: set[tuple[str, str]] = set()
        while url is not None:
            page_key = urlsplit(url)[2:4]
            if page_key in seen:
                raise RegistryError(
                    f"{what}: pagination does not end (the registry links back to a page "
                    f"already read: {urlsplit(url).path})"
                )
            if len(seen) >= MAX_PAGES:
                raise RegistryError(
                    f"{what}: more than {MAX_PAGES} pages; polyarch stops there",
                    hint="a registry that links to ever new pages may be misbehaving",
                )
            seen.add(page_key)
            response = self.client.request_url(
                "GET",
                url,
                registry=self.registry,
                scopes=self.pull,
                headers=headers,
                expect=expect,
                what=what,
                body_limit=body_limit,
                body_kind=body_kind,
            )
            yield response
            match = _LINK_RE.search(response.headers.get("Link", ""))
            url = self.absolute(match.group(1)) if match else None
