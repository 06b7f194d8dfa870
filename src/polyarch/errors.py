"""The one exception tree of polyarch.

Every error polyarch raises on purpose derives from :class:`PolyarchError`. Each
class says in its docstring what the user should do; the instance carries a one-line
message (what failed, on which reference) and, optionally, a ``hint`` (what to do).

Two families matter to the CLI:

* :class:`InvalidInput` (also a :class:`ValueError`): the user gave something bad.
  Exit code 2.
* everything else: an operation failed (network, registry, content). Exit code 1.

Lower layers map their own failures at the boundary: httpx exceptions become
:class:`TransportError`, a registry's ``errors[]`` JSON becomes a :class:`RegistryError`
subclass picked by its code. Messages never contain credentials.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BlobUnknown",
    "BodyTooLarge",
    "ContentError",
    "CredentialError",
    "Denied",
    "DigestMismatch",
    "ImmutableTag",
    "Interrupted",
    "InvalidDigest",
    "InvalidInput",
    "InvalidManifest",
    "InvalidPlatform",
    "InvalidReference",
    "ManifestTooLarge",
    "ManifestUnknown",
    "NameUnknown",
    "NotFound",
    "PlatformNotFound",
    "PolyarchError",
    "RegistryError",
    "SizeMismatch",
    "StorageError",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "Unsupported",
]


class PolyarchError(Exception):
    """Base of every error polyarch raises on purpose.

    ``str(error)`` is one line: what failed and on which reference. ``hint`` is an
    optional second sentence saying what to do about it. ``parameter`` names the
    argument of the function called whose value is wrong or missing (``"platform"``),
    when one is: messages speak of the library's own terms, and a front end such as the
    CLI may name its own option for that argument. ``value`` is a value of that argument
    that would work (``"linux/amd64"``), when there is one to suggest.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        parameter: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.parameter = parameter
        self.value = value

    def __str__(self) -> str:
        return self.message

    def one_line(self) -> str:
        """The message and the hint on one line, as the CLI prints it."""
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text} ({' '.join(self.hint.split())})"
        return text


class InvalidInput(PolyarchError, ValueError):
    """Something the user gave (an argument, a file, a flag) is malformed; fix it and retry."""

    exit_code = 2


class InvalidReference(InvalidInput):
    """An image reference does not follow Docker's reference grammar; correct its spelling."""


class InvalidPlatform(InvalidInput):
    """A platform specifier is malformed; write it as ``os[/arch[/variant]]`` (``linux/arm64``)."""


class InvalidDigest(InvalidInput):
    """A digest is malformed; write it as ``sha256:`` followed by 64 lowercase hex digits."""


class PlatformNotFound(PolyarchError):
    """The image has no entry for the requested platform; pick one of the platforms it lists."""


class ContentError(PolyarchError):
    """Content fetched from a registry is not what it claims to be; do not trust that source."""


class DigestMismatch(ContentError):
    """Bytes do not hash to the digest they were asked for or announced with."""


class SizeMismatch(ContentError):
    """Content does not have the size its descriptor states."""


class ManifestTooLarge(ContentError):
    """A manifest is over the 4 MiB limit registries and runtimes accept."""


class InvalidManifest(ContentError):
    """A manifest or index is not valid JSON of a known shape; check how it was produced."""


class TransportError(PolyarchError):
    """The registry could not be reached or the connection failed; check the address and network."""


class StorageError(PolyarchError):
    """The file system under an OCI layout or a config file failed (full, read-only, out
    of file descriptors, over a size limit); the message names the file, the hint what to do.
    """


class Interrupted(PolyarchError):
    """The user stopped the operation (Ctrl-C, SIGTERM) before it was done.

    Nothing half-done was committed and no tag moved; run the same command again to finish.
    """

    exit_code = 130


class CredentialError(PolyarchError):
    """Credentials could not be read (a credential helper failed or a config file is broken)."""


class RegistryError(PolyarchError):
    """The registry answered with an error.

    ``code`` is the Distribution error code (``MANIFEST_UNKNOWN``, ``DENIED``...) when the
    registry sent one, ``status`` the HTTP status.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        hint: str | None = None,
        parameter: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, parameter=parameter, value=value)
        self.code = code
        self.status = status


class NotFound(RegistryError):
    """The registry does not have what was asked for; check the reference."""


class ManifestUnknown(NotFound):
    """No manifest under that tag or digest; check the tag, or push the image first."""


class BlobUnknown(NotFound):
    """The repository does not hold that blob; push or copy it first."""


class NameUnknown(NotFound):
    """The repository does not exist in that registry; check the repository name."""


class AuthError(RegistryError):
    """Authentication or authorization failed; check the credentials for that registry."""


class Unauthorized(AuthError):
    """The registry wants credentials it did not get or accept; log in or pass credentials."""


class Denied(AuthError):
    """The credentials are valid but lack permission for this action on this repository."""


class TooManyRequests(RegistryError):
    """The registry is rate limiting; wait and retry later."""


class Unsupported(RegistryError):
    """The registry does not support this operation or media type."""


class BodyTooLarge(RegistryError):
    """A registry or token service sent an answer larger than polyarch reads for that kind
    of answer (docs/guarantees.md, "Every body has a bound"): it, or something between
    polyarch and it, misbehaves. Never retried.
    """


class ImmutableTag(RegistryError):
    """The registry refuses to overwrite a tag that exists (immutable tags: ECR, Harbor,
    GHCR tag protection); publish under a new tag, or delete the tag first where allowed.
    """
