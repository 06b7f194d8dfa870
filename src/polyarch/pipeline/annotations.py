"""The index's default annotations: docker/metadata-action's ``org.opencontainers.image.*``.

metadata-action writes the same eight keys as labels and as annotations
(``getOCIAnnotationsWithCustoms`` in ``src/meta.ts``), from the repository (GitHub's API),
the version (the first tag) and the commit, then the user's entries (later ones win),
sorted by key:

==================================== ==========================================
key                                  value
==================================== ==========================================
``org.opencontainers.image.created``      the instant (see below)
``org.opencontainers.image.description``  the repository's description
``org.opencontainers.image.licenses``     the repository's licence (SPDX id)
``org.opencontainers.image.revision``     the commit id
``org.opencontainers.image.source``       the repository's web address
``org.opencontainers.image.title``        the repository's name
``org.opencontainers.image.url``          the repository's web address
``org.opencontainers.image.version``      the version (the family's first tag)
==================================== ==========================================

Where polyarch differs, and why:

* an empty value is left out (metadata-action writes ``org.opencontainers.image.licenses=``
  when the repository has none): an empty annotation says nothing and costs bytes in
  every pull;
* ``created`` is ``SOURCE_DATE_EPOCH`` when set (as BuildKit reads it), else the commit's
  date, and left out when neither is known (no git, no CI): the same variants and the
  same commit then give the same index bytes and digest, so a re-run publishes nothing
  new and ``--append`` writers agree (metadata-action uses the current time, a new digest
  on every run).

The user's entries (the spec's ``annotations``) may use the global expressions of tag
rules (``{{branch}}``, ``{{sha}}``, ``{{date 'YYYY'}}``...).

>>> from polyarch.pipeline.version import RefContext, RepositoryInfo
>>> import datetime as dt
>>> repo = RepositoryInfo("https://github.com/seeds/metrics-api", "metrics-api")
>>> ctx = RefContext(ref="refs/tags/v3.14.1", sha="860c1904a1ce19322e91ac35af1ab07466440c37",
...                  commit_date=dt.datetime(2022, 4, 19, 9, 27, 24, tzinfo=dt.UTC),
...                  repository=repo)
>>> for key, value in default_annotations(ctx, "3.14.1").items():
...     print(key, value)
org.opencontainers.image.created 2022-04-19T09:27:24.000Z
org.opencontainers.image.revision 860c1904a1ce19322e91ac35af1ab07466440c37
org.opencontainers.image.source https://github.com/seeds/metrics-api
org.opencontainers.image.title metrics-api
org.opencontainers.image.url https://github.com/seeds/metrics-api
org.opencontainers.image.version 3.14.1
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final

from polyarch.errors import InvalidInput
from polyarch.pipeline.tags.evaluate import global_scope
from polyarch.pipeline.tags.template import Template, TemplateError
from polyarch.pipeline.version import RefContext

__all__ = [
    "CREATED",
    "DESCRIPTION",
    "LICENSES",
    "REVISION",
    "SOURCE",
    "TITLE",
    "URL",
    "VERSION",
    "created_time",
    "default_annotations",
    "render_annotations",
]

_PREFIX: Final = "org.opencontainers.image."
CREATED: Final = _PREFIX + "created"
DESCRIPTION: Final = _PREFIX + "description"
LICENSES: Final = _PREFIX + "licenses"
REVISION: Final = _PREFIX + "revision"
SOURCE: Final = _PREFIX + "source"
TITLE: Final = _PREFIX + "title"
URL: Final = _PREFIX + "url"
VERSION: Final = _PREFIX + "version"


def created_time(ctx: RefContext, env: Mapping[str, str] | None = None) -> dt.datetime | None:
    """``SOURCE_DATE_EPOCH`` (seconds) when set, else the commit's date, else ``None``.

    Raises :class:`~polyarch.errors.InvalidInput` for a ``SOURCE_DATE_EPOCH`` that is not
    a whole number of seconds.
    """
    epoch = (env or {}).get("SOURCE_DATE_EPOCH", "")
    if epoch:
        if not epoch.isdigit():
            raise InvalidInput(
                f"SOURCE_DATE_EPOCH {epoch!r} is not a number of seconds", parameter="env"
            )
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
    return ctx.commit_date


def _iso_ms(when: dt.datetime) -> str:
    # JavaScript's Date.toISOString(), as metadata-action writes created: UTC, milliseconds.
    utc = when.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def default_annotations(
    ctx: RefContext, version: str | None, *, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The default ``org.opencontainers.image.*`` annotations, sorted by key, no empty values.

    ``version`` is the tag family's version (its first tag); ``env`` is read for
    ``SOURCE_DATE_EPOCH`` (see :func:`created_time`).
    """
    repo = ctx.repository
    created = created_time(ctx, env)
    values = {
        CREATED: _iso_ms(created) if created is not None else "",
        DESCRIPTION: repo.description,
        LICENSES: repo.license,
        REVISION: ctx.sha,
        SOURCE: repo.url,
        TITLE: repo.name,
        URL: repo.url,
        VERSION: version or "",
    }
    return {key: value for key, value in sorted(values.items()) if value}


def render_annotations(
    defaults: Mapping[str, str], custom: Mapping[str, str], ctx: RefContext
) -> dict[str, str]:
    """``defaults`` with the user's ``custom`` entries rendered and laid over, sorted by key.

    Keys are kept as written (a buildx level prefix such as ``manifest-descriptor:``
    included: the caller splits levels). Raises :class:`~polyarch.errors.InvalidInput`
    for an expression that is not one of the global ones.
    """
    scope = global_scope(ctx)
    out = dict(defaults)
    for key, text in custom.items():
        try:
            out[key] = Template.parse(text).render(scope)
        except TemplateError as exc:
            raise InvalidInput(
                f"annotation {key!r}: {exc.message}", hint=exc.hint, parameter="annotations"
            ) from None
    return dict(sorted(out.items()))
