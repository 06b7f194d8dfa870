"""``tags``: the tags of a repository (registry or OCI layout), as crane ls / regctl tag ls.

A registry's list comes from ``GET /v2/NAME/tags/list`` (distribution spec "Listing
Tags"), following the ``Link`` header page by page until the registry says there is no
next page; a layout's from the ``org.opencontainers.image.ref.name`` annotations of its
``index.json``.

>>> from polyarch import Context
>>> from polyarch.operations.tags import list_tags
>>> with Context() as ctx:                                    # doctest: +SKIP
...     print(list_tags("127.0.0.1:5000/metrics-api", ctx).tags)
('v2.0.0', 'v2.0.0-amd64', 'v2.0.0-arm64')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyarch.content.context import Context, borrowed
from polyarch.domain.location import Location, parse_location
from polyarch.errors import InvalidInput
from polyarch.storage.repository import TagPaging

__all__ = ["TAGS_SCHEMA", "TagList", "list_tags"]

#: Version tag of the ``--json`` schema.
TAGS_SCHEMA = "polyarch.tags/v1"
_MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class TagList:
    """The tags of one repository, sorted.

    The distribution spec lists tags in lexical order, but CNCF distribution 2.8 does
    not keep that order across pages (and index.json has its own): sorting makes the
    output the same whatever the page size or backend.
    """

    #: The repository, without tag or digest (``127.0.0.1:5000/app``, ``oci:./out``).
    repository: str
    tags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {"schema": TAGS_SCHEMA, "repository": self.repository, "tags": list(self.tags)}


def list_tags(
    repository: Location | str,
    context: Context | None = None,
    *,
    page_size: int | None = None,
) -> TagList:
    """List every tag of ``repository`` (``host/name`` or ``oci:DIR``).

    Parameters: ``repository`` (a tag or digest in it is refused: name the repository),
    ``page_size`` (tags asked for per page from a registry, 1 to 10000; default 1000;
    the registry may send fewer, and every page is followed).

    Returns a :class:`TagList`. Raises :class:`~polyarch.errors.NameUnknown` when the
    repository does not exist (for a layout: the directory), :class:`InvalidInput` for
    a reference with a tag or digest or a bad ``page_size``, and what the registry
    answers (:class:`~polyarch.errors.Unauthorized`, ...).
    """
    ref = parse_location(repository) if isinstance(repository, str) else repository
    if ref.tag is not None or ref.digest is not None:
        raise InvalidInput(
            f"{ref}: name a repository, not an image",
            hint=f"list the tags of {ref.name}",
        )
    if page_size is not None and not 1 <= page_size <= _MAX_PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {_MAX_PAGE_SIZE}, not {page_size}")
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        if page_size is not None and isinstance(repo, TagPaging):
            repo.tag_page_size = page_size  # a layout has no pages
        return TagList(ref.name, tuple(sorted(set(repo.list_tags()))))
