"""A registry's tag list: ``GET /v2/<name>/tags/list``, page after page.

The distribution spec's "Listing Tags": ``?n=`` asks for a page size, the registry may
answer fewer, and a ``Link: <url>; rel="next"`` header names the next page. Pages that
link back to one already read, or never end, are stopped (:meth:`Endpoint.pages
<polyarch.storage.registry.endpoint.Endpoint.pages>`).

Registries may refuse a page size instead of answering fewer: CNCF distribution 3.1.0
with ``tags: maxtags: N`` answers ``400 PAGINATION_NUMBER_INVALID`` to any ``n`` over
``N`` (distribution/distribution#4844; 3.1.1 clamps instead, #4856). A refused size is
not a failure: the list is asked again without ``n`` (the registry's own page size;
3.1.0 then lists every tag), then with ``n`` = :data:`FALLBACK_PAGE_SIZE`, following
``Link`` as always.

A refusal of the list itself says what it is: without credentials (``401``) the
registry may serve pulls but list tags only to users (Harbor, GitLab, Quay).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from polyarch.domain.document import load_json
from polyarch.errors import InvalidManifest, NotFound, RegistryError, Unauthorized
from polyarch.storage.registry.endpoint import MAX_PAGES, Endpoint
from polyarch.transport.limits import TAG_PAGE_LIMIT

__all__ = ["DEFAULT_PAGE_SIZE", "FALLBACK_PAGE_SIZE", "MAX_TAG_PAGES", "list_tags"]

log = logging.getLogger("polyarch.storage")

#: Tags asked for per page unless the caller asks otherwise.
DEFAULT_PAGE_SIZE = 1000
#: The page size asked last when a registry refuses the one asked and its own default:
#: distribution's own default page size (and the cap of the registries measured).
FALLBACK_PAGE_SIZE = 100
#: Hard stop for ``Link`` pagination of one tag list.
MAX_TAG_PAGES = MAX_PAGES


def _size_refused(exc: RegistryError) -> bool:
    """A 400 about the page size: distribution's code, or a 400 with no code of its own."""
    if exc.status != 400:
        return False
    return exc.code in (None, "PAGINATION_NUMBER_INVALID", "UNSUPPORTED")


def list_tags(
    endpoint: Endpoint,
    page_size: int | None = DEFAULT_PAGE_SIZE,
    *,
    adapted: Callable[[int | None], None] | None = None,
) -> list[str]:
    """Every tag of the repository at ``endpoint``, asking ``page_size`` per page.

    ``page_size`` None asks without ``n``. When the registry refuses the size asked
    (see the module docstring), the list is read again without ``n``, then with
    :data:`FALLBACK_PAGE_SIZE`; ``adapted`` is called with the size that worked, for the
    caller to ask it next time.

    Raises :class:`~polyarch.errors.NameUnknown` for an unknown repository,
    :class:`~polyarch.errors.Unauthorized` saying that listing needs credentials,
    :class:`~polyarch.errors.InvalidManifest` for a page that is not a tag list, and
    :class:`~polyarch.errors.RegistryError` for pagination that does not end or a
    page size refused in every form.
    """
    sizes = list(dict.fromkeys([page_size, None, FALLBACK_PAGE_SIZE]))
    for attempt, size in enumerate(sizes):
        try:
            tags = _read(endpoint, size)
        except RegistryError as exc:
            if attempt == len(sizes) - 1 or not _size_refused(exc):
                raise
            log.info(
                "%s refused the tag list page size %s (%s); asking %s",
                endpoint.name,
                size if size is not None else "(none)",
                exc.one_line(),
                f"n={sizes[attempt + 1]}" if sizes[attempt + 1] is not None else "without n",
            )
            continue
        if attempt and adapted is not None:
            adapted(size)
        return tags
    raise AssertionError("unreachable: the last size raises or returns")


def _read(endpoint: Endpoint, page_size: int | None) -> list[str]:
    tags: list[str] = []
    what = f"tag list of {endpoint.name}"
    first = f"/v2/{endpoint.repository}/tags/list"
    if page_size is not None:
        first += f"?n={page_size}"
    try:
        pages = endpoint.pages(
            first, what=what, body_limit=TAG_PAGE_LIMIT, body_kind="a tag-list page"
        )
        for response in pages:
            page = load_json(response.content, what=what, error=InvalidManifest)
            page_tags = page.get("tags") if isinstance(page, dict) else None
            if page_tags is None:
                continue
            if not isinstance(page_tags, list) or not all(isinstance(t, str) for t in page_tags):
                raise InvalidManifest(f"{what}: tags must be strings")
            tags.extend(page_tags)
    except NotFound as exc:
        raise endpoint.not_found(exc, endpoint.name) from None
    except Unauthorized as exc:
        raise Unauthorized(
            f"listing the tags of {endpoint.name} needs credentials: {exc.message}",
            code=exc.code,
            status=exc.status,
            hint=f"{exc.hint or 'log in to the registry'}; it may serve pulls without "
            "credentials but list tags only to users",
        ) from None
    return tags
