"""Where an image lives: a registry repository or an OCI image layout directory.

Operations take a *location*, not only a registry :class:`~polyarch.domain.reference.Reference`,
so that ``oci:./out:v1`` (a directory in the OCI image layout format) can be read and
written like ``registry/repo:v1``. :class:`LayoutReference` has the same duck-typed API as
``Reference`` (``name``, ``identifier``, ``with_tag``, ...), so code that only needs those
works with either; code that must build a backend dispatches on the type.

>>> ref = parse_location("oci:./out:v1")
>>> ref
LayoutReference(path='./out', tag='v1', digest=None)
>>> ref.name, ref.identifier, str(ref.with_tag("v2"))
('oci:./out', 'v1', 'oci:./out:v2')
>>> str(parse_location("oci:/srv/layouts/app"))
'oci:/srv/layouts/app'
>>> parse_location("ubuntu:22.04").name
'docker.io/library/ubuntu'

The grammar is ``oci:PATH[:TAG][@DIGEST]``. What follows the last ``@`` is a digest
and what follows the last ``:`` is a tag, each only when it contains no ``/``: so
``oci:/abs/dir:v1`` has a tag and ``oci:./a:b/c`` is just a path. A directory whose own
name contains ``:`` or ``@`` is written with a trailing ``/`` (``oci:./dir:x/``).
``LayoutReference.parse(str(ref)) == ref`` always holds.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Final, TypeAlias

from polyarch.domain.digest import Digest
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidDigest, InvalidReference

__all__ = [
    "DEFAULT_TAG",
    "PREFIX",
    "TAG_RULE",
    "LayoutReference",
    "Location",
    "is_valid_tag",
    "parse_location",
]

#: Every layout location starts with this.
PREFIX: Final = "oci:"
#: The rule a tag follows, as a hint for error messages.
TAG_RULE: Final = (
    'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"'
)

_TAG_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
#: The tag ``oci:DIR`` stands for when it names none (regctl's ``ocidir://`` default);
#: reading falls back to a layout's only image when it has no such tag (docs/layouts.md).
DEFAULT_TAG: Final = "latest"
_MAX_QUOTED_LENGTH: Final = 300
_SYNTAX_HINT: Final = "write oci:PATH, oci:PATH:TAG or oci:PATH@DIGEST, e.g. oci:./out:v1"


def is_valid_tag(text: object) -> bool:
    """True when ``text`` follows the OCI tag grammar ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``.

    >>> is_valid_tag("v1.2"), is_valid_tag(".hidden"), is_valid_tag("../x")
    (True, False, False)
    """
    return isinstance(text, str) and _TAG_RE.fullmatch(text) is not None


def _quote(text: str) -> str:
    if len(text) > _MAX_QUOTED_LENGTH:
        text = text[:_MAX_QUOTED_LENGTH] + "..."
    return json.dumps(text, ensure_ascii=False)


def _error(text: str, reason: str, *, hint: str | None = None) -> InvalidReference:
    return InvalidReference(f"invalid reference {_quote(text)}: {reason}", hint=hint)


def _path_problem(path: object) -> tuple[str, str | None] | None:
    """Why ``path`` cannot be a layout path (reason, hint), or None when it can."""
    if not isinstance(path, str) or not path:
        return "missing directory path", _SYNTAX_HINT
    if "\0" in path:
        return "the path contains a NUL character", None
    last = path.rpartition("/")[2]
    if ":" in last or "@" in last:
        # Written out, such a name would read back as a tag or digest.
        return (
            f'the directory name {_quote(last)} contains ":" or "@"',
            'end the path with "/" so the name is not read as a tag or digest',
        )
    return None


@dataclass(frozen=True, slots=True)
class LayoutReference:
    """An image in an OCI image layout directory: ``oci:PATH[:TAG][@DIGEST]``.

    ``path`` is kept as given (relative paths stay relative, nothing is resolved or
    touched on disk). Build one with :meth:`parse`; the constructor only validates.
    """

    path: str
    """The layout directory, as given."""
    tag: str | None = None
    """The tag (an ``org.opencontainers.image.ref.name`` in ``index.json``), or None."""
    digest: Digest | None = None
    """Content digest, or None."""

    def __post_init__(self) -> None:
        path, tag = self.path, self.tag
        shown = f"{PREFIX}{path}"
        problem = _path_problem(path)
        if problem is not None:
            raise _error(shown, problem[0], hint=problem[1])
        if tag is not None and not is_valid_tag(tag):
            raise _error(shown, f"invalid tag {_quote(str(tag))}", hint=TAG_RULE)
        if self.digest is not None and not isinstance(self.digest, Digest):
            try:
                object.__setattr__(self, "digest", Digest(self.digest))
            except InvalidDigest as error:
                raise _error(shown, error.message, hint=error.hint) from None

    @classmethod
    def parse(cls, text: str) -> LayoutReference:
        """Parse ``oci:PATH``, ``oci:PATH:TAG``, ``oci:PATH@DIGEST`` or ``oci:PATH:TAG@DIGEST``.

        Raise :class:`InvalidReference`, quoting ``text``, when it is malformed.

        >>> LayoutReference.parse("oci:/abs/dir:v1@sha256:" + "a" * 64).tag
        'v1'
        >>> LayoutReference.parse("oci:./a:b/c").path
        './a:b/c'
        """
        if not isinstance(text, str):
            raise InvalidReference(f"invalid reference {text!r}: not a string")
        if not text.startswith(PREFIX):
            raise _error(text, f'an OCI layout location starts with "{PREFIX}"', hint=_SYNTAX_HINT)
        rest = text[len(PREFIX) :]
        if rest.startswith("//"):
            raise _error(text, 'not a URL: no "//" after "oci:"', hint=_SYNTAX_HINT)
        digest: Digest | None = None
        before, at, after = rest.rpartition("@")
        if at and "/" not in after:
            try:
                digest = Digest(after)
            except InvalidDigest as error:
                raise _error(text, error.message, hint=error.hint) from None
            rest = before
        tag: str | None = None
        before, colon, after = rest.rpartition(":")
        if colon and "/" not in after:
            if not after:
                raise _error(text, 'empty tag after ":"', hint=TAG_RULE)
            if not is_valid_tag(after):
                raise _error(text, f"invalid tag {_quote(after)}", hint=TAG_RULE)
            tag, rest = after, before
        problem = _path_problem(rest)
        if problem is not None:
            raise _error(text, problem[0], hint=problem[1])
        return cls(rest, tag, digest)

    @property
    def registry(self) -> str:
        """Always ``"oci"``: what stands where a registry host would."""
        return "oci"

    @property
    def repository(self) -> str:
        """The layout directory (same as :attr:`path`)."""
        return self.path

    @property
    def name(self) -> str:
        """``oci:PATH``, without tag or digest."""
        return f"{PREFIX}{self.path}"

    @property
    def implicit_tag(self) -> bool:
        """True when neither a tag nor a digest was written: ``oci:DIR`` alone."""
        return self.tag is None and self.digest is None

    @property
    def identifier(self) -> str:
        """The digest if there is one, else the tag, else ``latest`` (:data:`DEFAULT_TAG`)."""
        if self.digest is not None:
            return str(self.digest)
        if self.tag is not None:
            return self.tag
        return DEFAULT_TAG

    def __str__(self) -> str:
        """The full form ``oci:PATH[:TAG][@DIGEST]``."""
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.name}{tag}{digest}"

    def familiar(self) -> str:
        """Same as ``str()``: a layout location has no shorter form."""
        return str(self)

    def with_tag(self, tag: str) -> LayoutReference:
        """The same directory with tag ``tag`` and no digest; :class:`InvalidReference` if bad."""
        if not is_valid_tag(tag):
            raise InvalidReference(
                f"invalid tag {_quote(str(tag))} for {_quote(self.name)}", hint=TAG_RULE
            )
        return dataclasses.replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> LayoutReference:
        """The same directory and tag with digest ``digest``; :class:`InvalidReference` if bad."""
        try:
            parsed = Digest(digest)
        except InvalidDigest as error:
            raise InvalidReference(
                f"invalid digest for {_quote(self.name)}: {error.message}", hint=error.hint
            ) from None
        return dataclasses.replace(self, digest=parsed)

    def untagged(self) -> LayoutReference:
        """The same directory with no tag and no digest."""
        return dataclasses.replace(self, tag=None, digest=None)


#: Either kind of location.
Location: TypeAlias = Reference | LayoutReference


def parse_location(text: str) -> Location:
    """A :class:`LayoutReference` for ``oci:...``, else a registry :class:`Reference`.

    ``oci:`` always means a layout: a Docker Hub image named ``oci`` must be written
    ``docker.io/library/oci:TAG``.
    """
    if isinstance(text, str) and text.startswith(PREFIX):
        return LayoutReference.parse(text)
    return Reference.parse(text)
