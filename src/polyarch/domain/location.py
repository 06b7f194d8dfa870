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

The grammar is ``oci:PATH[:NAME][@DIGEST]``. What follows the last ``@`` is a digest
when it contains no ``/``. NAME is what follows the first ``:``, as skopeo splits
``oci:DIR:NAME`` (containers/image ``oci/internal.SplitPathAndImage``), so that a layout
entry named by a full reference is addressed as written: ``oci:./l:rancher/pause:3.6``.
A NAME is a tag or an image-spec ``org.opencontainers.image.ref.name`` (a full
reference). A path that contains ``:`` is written with a trailing ``/``
(``oci:./dir:x/``, ``oci:./dir:x/:v1``), which no name can end with.
``LayoutReference.parse(str(ref)) == ref`` always holds.

>>> LayoutReference.parse("oci:./l:rancher/pause:3.6").tag
'rancher/pause:3.6'
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
    "NAME_RULE",
    "PREFIX",
    "TAG_RULE",
    "LayoutReference",
    "Location",
    "is_valid_layout_name",
    "is_valid_ref_name",
    "is_valid_tag",
    "parse_location",
]

#: Every layout location starts with this.
PREFIX: Final = "oci:"
#: The rule a tag follows, as a hint for error messages.
TAG_RULE: Final = (
    'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"'
)

#: The rule a layout entry's name follows: a tag, or an image-spec ``ref.name``.
NAME_RULE: Final = (
    f"{TAG_RULE}; a layout entry may also be named by a full reference "
    "(rancher/pause:3.6: components of letters and digits joined by -._:@+ or --, "
    'separated by "/")'
)

_TAG_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# image-spec annotations.md, org.opencontainers.image.ref.name:
#   ref ::= component ("/" component)*; component ::= alphanum (separator alphanum)*
#   alphanum ::= [A-Za-z0-9]+; separator ::= [-._:@+] | "--"
_COMPONENT: Final = r"[A-Za-z0-9]+(?:(?:--|[-._:@+])[A-Za-z0-9]+)*"
_REF_NAME_RE: Final = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_CHARS: Final = re.compile(r"[A-Za-z0-9._-]*")
#: Longer names than this are refused (the spec sets no bound; a reference is far shorter).
_MAX_NAME_LENGTH: Final = 1024
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


def is_valid_ref_name(text: object) -> bool:
    """True when ``text`` follows image-spec's ``org.opencontainers.image.ref.name`` grammar.

    A full reference (skopeo writes ``oci:DIR:rancher/pause:3.6`` as is; crane
    ``--annotate-ref`` writes ``host:port/repo:tag``) or a plain name.

    >>> is_valid_ref_name("rancher/pause:3.6"), is_valid_ref_name("127.0.0.1:5000/a/b:v1")
    (True, True)
    >>> is_valid_ref_name("a//b"), is_valid_ref_name("a::b"), is_valid_ref_name("/abs")
    (False, False, False)
    """
    return (
        isinstance(text, str)
        and len(text) <= _MAX_NAME_LENGTH
        and _REF_NAME_RE.fullmatch(text) is not None
    )


def is_valid_layout_name(text: object) -> bool:
    """True for a name a layout entry may carry: a tag or a ``ref.name`` (see above).

    >>> is_valid_layout_name("v1_2"), is_valid_layout_name("rancher/pause:3.6")
    (True, True)
    >>> is_valid_layout_name("../x"), is_valid_layout_name("")
    (False, False)
    """
    if is_valid_tag(text):
        return True
    # Names of tag characters only follow the tag grammar (its 128-character bound too).
    return is_valid_ref_name(text) and _TAG_CHARS.fullmatch(str(text)) is None


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
    if ":" in path and not path.endswith("/"):
        # Written out, what follows the first ":" would read back as an entry's name.
        return (
            f'the path {_quote(path)} contains ":"',
            'end the path with "/" so what follows ":" is not read as a name',
        )
    return None


@dataclass(frozen=True, slots=True)
class LayoutReference:
    """An image in an OCI image layout directory: ``oci:PATH[:NAME][@DIGEST]``.

    ``path`` is kept as given (relative paths stay relative, nothing is resolved or
    touched on disk). Build one with :meth:`parse`; the constructor only validates.
    """

    path: str
    """The layout directory, as given."""
    tag: str | None = None
    """The entry's name (its ``org.opencontainers.image.ref.name`` in ``index.json``): a
    tag, or a full reference as skopeo and crane write them; or None."""
    digest: Digest | None = None
    """Content digest, or None."""

    def __post_init__(self) -> None:
        path, tag = self.path, self.tag
        shown = f"{PREFIX}{path}"
        problem = _path_problem(path)
        if problem is not None:
            raise _error(shown, problem[0], hint=problem[1])
        if tag is not None and not is_valid_layout_name(tag):
            raise _error(shown, f"invalid tag {_quote(str(tag))}", hint=NAME_RULE)
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
        >>> LayoutReference.parse("oci:./a:b/c").tag, LayoutReference.parse("oci:./a:b/c/").path
        ('b/c', './a:b/c/')
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
        if not rest.endswith("/"):  # a trailing "/" ends a path that holds ":"
            rest, tag = _split_name(text, rest)
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
        if not is_valid_layout_name(tag):
            raise InvalidReference(
                f"invalid tag {_quote(str(tag))} for {_quote(self.name)}", hint=NAME_RULE
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


def _split_name(text: str, rest: str) -> tuple[str, str | None]:
    """``rest`` (``PATH[:NAME]``) split at its first ``:``, as skopeo splits ``oci:DIR:NAME``.

    When what follows the first ``:`` is no name, the path holds ``:`` and ends with
    ``/`` (``./dir:x/:v1``): then the split is at the last ``:``.
    """
    before, colon, after = rest.partition(":")
    if not colon:
        return rest, None
    if not is_valid_layout_name(after):
        path, _, last = rest.rpartition(":")
        if path.endswith("/") and last and "/" not in last:
            before, after = path, last
    if not after:
        raise _error(text, 'empty tag after ":"', hint=TAG_RULE)
    if not is_valid_layout_name(after):
        raise _error(text, f"invalid tag {_quote(after)}", hint=NAME_RULE)
    return before, after


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
