"""A registry's tag list: ``GET /v2/<name>/tags/list``, page after page.

The distribution spec's "Listing Tags": ``?n=`` asks for a page size, the registry may
answer fewer, and a ``Link: <url>; rel="next"`` header names the next page. Pages that
link back to one already read, or never end, are stopped (:meth:`Endpoint.pages
<polyarch.storage.registry.endpoint.Endpoint.pages>`).
"""

from __future__ import annotations

from polyarch.domain.document import load_json
from polyarch.errors import InvalidManifest, NotFound
from polyarch.storage.registry.endpoint import MAX_PAGES, Endpoint
from polyarch.transport.limits import TAG_PAGE_LIMIT

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_TAG_PAGES", "list_tags"]

#: Tags asked for per page unless the caller asks otherwise.
DEFAULT_PAGE_SIZE = 1000
#: Hard stop for ``Link`` pagination of one tag list.
MAX_TAG_PAGES = MAX_PAGES


def list_tags(endpoint: Endpoint, page_size: int = DEFAULT_PAGE_SIZE) -> list[str]:
    """Every tag of the repository at ``endpoint``, asking ``page_size`` per page.

    Raises :class:`~polyarch.errors.NameUnknown` for an unknown repository,
    :class:`~polyarch.errors.InvalidManifest` for a page that is not a tag list, and
    :class:`~polyarch.errors.RegistryError` for pagination that does not end.
    """
    tags: list[str] = []
    what = f"tag list of {endpoint.name}"
    first = f"/v2/{endpoint.repository}/tags/list?n={page_size}"
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
    return tags
