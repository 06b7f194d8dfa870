"""Image references with Docker's normalization rules.

:meth:`Reference.parse` follows ``ParseNormalizedNamed`` from
``github.com/distribution/reference``, the parser ``docker`` uses for image names.
A familiar name such as ``ubuntu`` expands to ``docker.io/library/ubuntu``. The first
path component is taken as the registry only when it contains ``.`` or ``:``, is
``localhost``, or has an uppercase letter. ``index.docker.io`` becomes ``docker.io``.
No ``:latest`` is added. :attr:`Reference.identifier` is where the default applies.

>>> ref = Reference.parse("ubuntu:22.04")
>>> ref
Reference(registry='docker.io', repository='library/ubuntu', tag='22.04', digest=None)
>>> str(ref), ref.familiar(), ref.identifier
('docker.io/library/ubuntu:22.04', 'ubuntu:22.04', '22.04')
>>> Reference.parse("localhost:5000/team/app").name
'localhost:5000/team/app'
>>> Reference.parse("localhost:5000").tag  # no slash: the name "localhost", tag "5000"
'5000'

Every :class:`Reference` is normalized, so ``Reference.parse(str(ref)) == ref`` always
holds. The constructor rejects field values that :meth:`Reference.parse` would never
produce.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Final

from polyarch.domain.digest import Digest
from polyarch.errors import InvalidDigest, InvalidReference

__all__ = ["Reference"]

# The grammar of distribution/reference (regexp.go), written out with ASCII-only
# classes: Python's \w and \d would also match non-ASCII letters and digits, while Go's
# do not. Every pattern is used with fullmatch(), never with "$".

# A path component is lowercase alphanumerics, separated by one ".", one or two "_",
# or any number of "-".
_PATH_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REMOTE_NAME: Final = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
# A host is DNS-like labels (uppercase allowed) or a bracketed IPv6 address without a
# zone. Any run of digits is accepted as the port, as upstream does.
_DOMAIN_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME: Final = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6_ADDRESS: Final = r"\[[a-fA-F0-9:]+\]"
_DOMAIN_AND_PORT: Final = rf"(?:{_DOMAIN_NAME}|{_IPV6_ADDRESS})(?::[0-9]+)?"
_TAG: Final = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# Upstream's syntactic digest pattern. Digest then accepts only sha256 and sha512.
_DIGEST: Final = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE: Final = re.compile(
    rf"((?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?"
)
_NAME_RE: Final = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})")
_DOMAIN_RE: Final = re.compile(_DOMAIN_AND_PORT)
_PATH_COMPONENT_RE: Final = re.compile(_PATH_COMPONENT)
_REMOTE_NAME_RE: Final = re.compile(_REMOTE_NAME)
_TAG_RE: Final = re.compile(_TAG)
_DIGEST_RE: Final = re.compile(_DIGEST)
# A bare image ID. ParseNormalizedNamed refuses these as names.
_IDENTIFIER_RE: Final = re.compile(r"[a-f0-9]{64}")

_DEFAULT_REGISTRY: Final = "docker.io"
_LEGACY_DEFAULT_REGISTRY: Final = "index.docker.io"
_OFFICIAL_PREFIX: Final = "library/"
_LOCALHOST: Final = "localhost"
_DEFAULT_TAG: Final = "latest"
_MAX_REPOSITORY_LENGTH: Final = 255
_MAX_QUOTED_LENGTH: Final = 300

_TAG_RULE: Final = (
    'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"'
)
_PATH_RULE: Final = (
    'path components are lowercase letters and digits, joined by ".", "_", "__" or "-"'
)


def _quote(text: str) -> str:
    """``text`` in double quotes, on one line, shortened if very long."""
    if len(text) > _MAX_QUOTED_LENGTH:
        text = text[:_MAX_QUOTED_LENGTH] + "..."
    return json.dumps(text, ensure_ascii=False)


def _error(text: str, reason: str, *, hint: str | None = None) -> InvalidReference:
    return InvalidReference(f"invalid reference {_quote(text)}: {reason}", hint=hint)


def _looks_like_registry(component: str) -> bool:
    """Whether Docker reads the first path component as a registry host."""
    return (
        component == _LOCALHOST
        or "." in component
        or ":" in component
        or component.lower() != component
    )


def _split_docker_domain(text: str) -> tuple[str, str]:
    """Split ``text`` into a registry and the rest, filling in Docker Hub defaults.

    The rest still carries any ``:tag`` and ``@digest``. It is validated later.
    """
    first, slash, rest = text.partition("/")
    if not slash:
        return _DEFAULT_REGISTRY, _OFFICIAL_PREFIX + text
    if first == _LEGACY_DEFAULT_REGISTRY:
        domain, remainder = _DEFAULT_REGISTRY, rest
    elif _looks_like_registry(first):
        domain, remainder = first, rest
    else:
        domain, remainder = _DEFAULT_REGISTRY, text
    if domain == _DEFAULT_REGISTRY and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder


def _digest_error(text: str, error: InvalidDigest) -> InvalidReference:
    return _error(text, error.message, hint=error.hint)


def _explain_format_error(text: str, domain: str, remainder: str) -> InvalidReference:
    """Say which part of a reference breaks the grammar.

    This runs only after the grammar failed to match. It picks a message. It never
    decides validity.
    """
    if "://" in text:
        return _error(text, "a reference is not a URL", hint="drop the scheme, e.g. https://")
    if text[0] in ":@":
        return _error(text, f"missing repository name before {_quote(text[0])}")
    if text[0] == "[" and "/" not in text:
        return _error(
            text, "missing repository", hint="an IPv6 registry host must be followed by /NAME"
        )
    name_and_tag, at, digest = remainder.partition("@")
    if at and not _DIGEST_RE.fullmatch(digest):
        try:
            Digest(digest)
        except InvalidDigest as error:
            return _digest_error(text, error)
        return _error(text, f"invalid digest {_quote(digest)}")
    path, tag = name_and_tag, None
    colon = name_and_tag.find(":", name_and_tag.rfind("/") + 1)
    if colon >= 0:
        path, tag = name_and_tag[:colon], name_and_tag[colon + 1 :]
    if tag is not None and not _TAG_RE.fullmatch(tag):
        if not tag:
            return _error(text, 'empty tag after ":"')
        return _error(text, f"invalid tag {_quote(tag)}", hint=_TAG_RULE)
    if not _DOMAIN_RE.fullmatch(domain):
        return _error(text, f"invalid registry host {_quote(domain)}")
    for component in path.split("/"):
        if not component:
            return _error(text, "repository path has an empty component")
        if not _PATH_COMPONENT_RE.fullmatch(component):
            hint = _PATH_RULE
            if _looks_like_registry(component) and "/" not in text:
                hint = "a registry host must be followed by /REPOSITORY"
            return _error(text, f"invalid repository path component {_quote(component)}", hint=hint)
    return _error(text, "invalid reference format")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized image reference: ``registry/repository[:tag][@digest]``.

    Build one with :meth:`parse`. The constructor only validates. It does not expand
    ``ubuntu`` to ``library/ubuntu``, and it rejects anything :meth:`parse` would not
    return.
    A reference may carry a tag, a digest, both (the digest wins when pulling), or
    neither (``latest`` is pulled).
    """

    registry: str
    """Registry host with optional port: ``docker.io``, ``localhost:5000``, ``[::1]:5000``."""
    repository: str
    """Repository path in the registry, e.g. ``library/ubuntu``."""
    tag: str | None = None
    """Tag as written, or ``None``. No ``latest`` is filled in."""
    digest: Digest | None = None
    """Content digest, or ``None``."""

    def __post_init__(self) -> None:
        registry, repository, tag = self.registry, self.repository, self.tag
        shown = f"{registry}/{repository}"
        if not isinstance(registry, str) or not _DOMAIN_RE.fullmatch(registry):
            raise _error(shown, f"invalid registry host {_quote(str(registry))}")
        if registry == _LEGACY_DEFAULT_REGISTRY or not _looks_like_registry(registry):
            raise _error(
                shown,
                f"{_quote(registry)} is not a normalized registry host",
                hint="build references with Reference.parse()",
            )
        if not isinstance(repository, str) or not _REMOTE_NAME_RE.fullmatch(repository):
            raise _error(shown, f"invalid repository name {_quote(str(repository))}")
        if len(repository) > _MAX_REPOSITORY_LENGTH:
            raise _error(shown, "repository name must not be more than 255 characters")
        if registry == _DEFAULT_REGISTRY and "/" not in repository:
            raise _error(
                shown,
                f'Docker Hub repositories need a namespace; use "library/{repository}"',
                hint="build references with Reference.parse()",
            )
        if tag is not None and (not isinstance(tag, str) or not _TAG_RE.fullmatch(tag)):
            raise _error(shown, f"invalid tag {_quote(str(tag))}", hint=_TAG_RULE)
        if self.digest is not None and not isinstance(self.digest, Digest):
            try:
                object.__setattr__(self, "digest", Digest(self.digest))
            except InvalidDigest as error:
                raise _digest_error(shown, error) from None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse ``text`` as Docker does (``ParseNormalizedNamed``).

        Raise :class:`InvalidReference` if ``text`` is not a valid reference. The
        message quotes ``text`` and says what is wrong.

        >>> Reference.parse("index.docker.io/user/app:v1").name
        'docker.io/user/app'
        """
        if not isinstance(text, str):
            raise InvalidReference(f"invalid reference {text!r}: not a string")
        if not text:
            raise _error(text, "empty reference", hint="give an image name such as ubuntu:22.04")
        if _IDENTIFIER_RE.fullmatch(text):
            raise _error(
                text,
                "a 64-character hexadecimal string is an image ID, not a repository name",
            )
        domain, remainder = _split_docker_domain(text)
        # Upstream tests only the part before the first ":" here. It finds uppercase
        # in a path, which would otherwise be reported as a bad format.
        remote = remainder.partition(":")[0]
        if remote.lower() != remote:
            raise _error(text, "repository name must be lowercase")
        match = _REFERENCE_RE.fullmatch(f"{domain}/{remainder}")
        if match is None:
            raise _explain_format_error(text, domain, remainder)
        name, tag, digest = match.group(1, 2, 3)
        name_match = _NAME_RE.fullmatch(name)
        registry, repository = name_match.group(1, 2) if name_match else (None, name)
        if registry is None:
            # The first component looks like a host ("." or ":" or uppercase) but is
            # only a valid path component, e.g. "foo_bar.com". Upstream then returns a
            # name with no domain. A registry client cannot use that, so reject it.
            raise _error(
                text,
                f"invalid registry host {_quote(domain)}",
                hint='a host name has no "_"; to mean a Docker Hub namespace, drop the "."',
            )
        if len(repository) > _MAX_REPOSITORY_LENGTH:
            raise _error(text, "repository name must not be more than 255 characters")
        parsed_digest: Digest | None = None
        if digest is not None:
            try:
                parsed_digest = Digest(digest)
            except InvalidDigest as error:
                raise _digest_error(text, error) from None
        return cls(registry, repository, tag, parsed_digest)

    @property
    def name(self) -> str:
        """Registry and repository without tag or digest: ``docker.io/library/ubuntu``."""
        return f"{self.registry}/{self.repository}"

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return tag + digest

    def __str__(self) -> str:
        """The full normalized form, ``name[:tag][@digest]``."""
        return self.name + self._suffix()

    def familiar(self) -> str:
        """The short form ``docker`` prints (``FamiliarString``).

        Docker Hub loses ``docker.io/``. Official images also lose ``library/``.

        >>> Reference.parse("docker.io/library/redis:7").familiar()
        'redis:7'
        """
        name = self.name
        if self.registry == _DEFAULT_REGISTRY:
            name = self.repository
            official = name.removeprefix(_OFFICIAL_PREFIX)
            if official != name and "/" not in official:
                name = official
        return name + self._suffix()

    @property
    def identifier(self) -> str:
        """What to put in ``/v2/<repository>/manifests/<identifier>``.

        That is the digest if there is one, else the tag, else ``latest``.
        """
        if self.digest is not None:
            return str(self.digest)
        if self.tag is not None:
            return self.tag
        return _DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        """The same repository with tag ``tag`` and no digest.

        Raise :class:`InvalidReference` if ``tag`` is not a valid tag.
        """
        if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
            raise InvalidReference(
                f"invalid tag {_quote(str(tag))} for {_quote(self.name)}", hint=_TAG_RULE
            )
        return dataclasses.replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        """The same repository and tag with digest ``digest``.

        Raise :class:`InvalidReference` if ``digest`` is not a valid digest.
        """
        try:
            parsed = Digest(digest)
        except InvalidDigest as error:
            raise InvalidReference(
                f"invalid digest for {_quote(self.name)}: {error.message}", hint=error.hint
            ) from None
        return dataclasses.replace(self, digest=parsed)

    def untagged(self) -> Reference:
        """The same repository with no tag and no digest."""
        return dataclasses.replace(self, tag=None, digest=None)
