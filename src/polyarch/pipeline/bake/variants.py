"""Bake targets as variants: each target's platforms built from its context and Dockerfile.

A team that describes its build with Bake (HCL, JSON or compose files) keeps it:
polyarch asks buildx to resolve the files (variables, functions, ``inherits``, groups,
compose's ``build:`` sections) with ``docker buildx bake -f FILE... --print [TARGET...]``
and reads the JSON it prints: ``{"group": {...}, "target": {NAME: {...}}}``. One target per
codebase works; a target with several platforms becomes one variant per platform (same
context and Dockerfile).

What buildx prints, and how it is read, is
:mod:`polyarch.pipeline.bake.definition`.

Refused, one line each (:class:`BakeError`, exit code 2): a target without
``platforms``; a remote ``context`` (as the spec refuses one); ``dockerfile-inline``; a
``contexts`` entry naming another target (``target:``, which only bake can build) or a
URL; attributes polyarch would not pass on (``shm-size``, ``ulimits``, ``extra-hosts``,
``entitlements``, ``no-cache-filter``, ``call``). ``tags`` and ``output`` are not
used: polyarch pushes each variant itself, where the spec (or ``--image``) says.

>>> from polyarch.pipeline.bake.definition import parse_bake_print
>>> definition = parse_bake_print('''{"target": {"api-arm64": {"context": "app-arm64",
...   "dockerfile": "docker/prod.Dockerfile", "platforms": ["linux/arm64"],
...   "args": {"PYTHON_ENV": "production"}, "target": "runtime",
...   "secret": [{"id": "npmrc", "src": "npmrc"}]}}}''', Path("/src"))
>>> [(str(v.platform), str(v.dockerfile), v.inputs.secrets[0].src)
...  for v in bake_variants(definition, ["api-arm64"])]
[('linux/arm64', '/src/app-arm64/docker/prod.Dockerfile', '/src/npmrc')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Final

from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput, InvalidPlatform, InvalidReference
from polyarch.pipeline.bake.definition import (
    BakeDefinition,
    BakeError,
    BakeTarget,
    bake_print,
    csv_of,
)
from polyarch.pipeline.specfile.inputs import (
    BuildInputs,
    CacheInput,
    SecretInput,
    SshInput,
    parse_attest,
)
from polyarch.pipeline.specfile.model import DEFAULT_TAGS, Spec, Variant
from polyarch.pipeline.tags.rules import parse_rule

__all__ = [
    "bake_variants",
    "resolve_bake",
    "spec_from_bake",
    "with_bake_variants",
]

# What polyarch reads from a target; the rest of what --print shows is refused or ignored.
_READ: Final = frozenset(
    {
        "context",
        "contexts",
        "dockerfile",
        "args",
        "labels",
        "target",
        "platforms",
        "secret",
        "ssh",
        "cache-from",
        "cache-to",
        "attest",
        "no-cache",
        "pull",
        "network",
    }
)
#: Printed but not used: polyarch pushes each variant itself (see the module docstring).
_IGNORED: Final = frozenset({"tags", "output", "description", "annotations"})
_REMOTE: Final = ("http://", "https://", "git://", "git@", "ssh://", "github.com/")


def _local(value: str, cwd: Path) -> Path:
    return (cwd / value.removeprefix("cwd://")).resolve()


def _inputs(target: BakeTarget, cwd: Path) -> BuildInputs:
    a, name = target.attrs, target.name
    secrets: list[SecretInput] = []
    for item in target.entries("secret"):
        try:
            if isinstance(item, str):
                secret = SecretInput.parse(item, strict=False)
            else:
                secret = SecretInput.build(
                    item.get("id"),
                    item.get("src"),
                    item.get("env"),
                    text=csv_of(item),
                    strict=False,
                )
        except InvalidInput as exc:
            raise BakeError(f"bake target {name!r}: {exc.message}", hint=exc.hint) from None
        secrets.append(secret.absolute(cwd))
    ssh: list[SshInput] = []
    for item in target.entries("ssh"):
        if isinstance(item, str):
            ssh.append(SshInput.parse(item))
        else:
            paths = tuple(str(_local(p, cwd)) for p in item.get("paths") or ())
            ssh.append(SshInput(str(item.get("id", "default")), paths))
    caches: dict[str, list[CacheInput]] = {"cache-from": [], "cache-to": []}
    for key, found in caches.items():
        for item in target.entries(key):
            try:
                cache = (
                    CacheInput.parse(item)
                    if isinstance(item, str)
                    else CacheInput.from_mapping(item, csv_of(item))
                )
            except InvalidInput as exc:
                raise BakeError(f"bake target {name!r}: {key}: {exc.message}") from None
            found.append(cache.absolute(cwd))
    attest = []
    for item in target.entries("attest"):
        attest.append(parse_attest(item if isinstance(item, str) else csv_of(item)))
    contexts: dict[str, str] = {}
    for ctx_name, value in target.string_map("contexts").items():
        if value.startswith("target:"):
            raise BakeError(
                f"bake target {name!r}: context {ctx_name!r} is the target {value[7:]!r}, "
                "which only bake builds",
                hint="build that image first and name it docker-image://REF",
            )
        if value.startswith(("docker-image://", "oci-layout://")):
            contexts[ctx_name] = value
        elif value.startswith(_REMOTE) or "://" in value.removeprefix("cwd://"):
            raise BakeError(f"bake target {name!r}: context {ctx_name!r} is remote ({value})")
        else:
            contexts[ctx_name] = str(_local(value, cwd))
    network = a.get("network")
    return BuildInputs(
        secrets=tuple(secrets),
        ssh=tuple(ssh),
        cache_from=tuple(caches["cache-from"]),
        cache_to=tuple(caches["cache-to"]),
        build_contexts=MappingProxyType(contexts),
        attest=tuple(attest),
        no_cache=a.get("no-cache") is True,
        pull=a.get("pull") is True,
        network=network if isinstance(network, str) and network else None,
    )


def bake_variants(definition: BakeDefinition, names: Sequence[str] = ()) -> list[Variant]:
    """The variants of the named targets (default: the ``default`` group), in order.

    A target with several platforms gives one variant per platform. Raises
    :class:`BakeError` for a target that cannot be a variant (see the module docstring)
    or two variants of one platform.
    """
    chosen = definition.expand(names)
    variants: list[Variant] = []
    seen: dict[Platform, str] = {}
    for name in chosen:
        target = definition.targets.get(name)
        if target is None:
            known = ", ".join(definition.targets) or "none"
            raise BakeError(f"bake target {name!r} is not defined (targets: {known})")
        for variant in _target_variants(target, definition.cwd):
            first = seen.get(variant.platform)
            if first == name:
                raise BakeError(f"bake target {name!r} lists {variant.platform} twice")
            if first is not None:
                raise BakeError(
                    f"bake targets {first!r} and {name!r} both build {variant.platform}",
                    hint="one target per platform: name the targets to use",
                )
            seen[variant.platform] = name
            variants.append(variant)
    return variants


def _target_variants(target: BakeTarget, cwd: Path) -> list[Variant]:
    a, name = target.attrs, target.name
    unsupported = sorted(set(a) - _READ - _IGNORED)
    if "dockerfile-inline" in a:
        raise BakeError(
            f"bake target {name!r}: dockerfile-inline is not supported; write the Dockerfile "
            "to a file"
        )
    if unsupported:
        raise BakeError(
            f"bake target {name!r}: {', '.join(unsupported)} not supported by polyarch",
            hint="remove them from the target, or build it with bake",
        )
    context_text = a.get("context", ".")
    if (
        not isinstance(context_text, str)
        or context_text.startswith(_REMOTE)
        or ("://" in context_text.removeprefix("cwd://"))
    ):
        raise BakeError(
            f"bake target {name!r}: context {context_text!r} is not a local directory "
            "(remote contexts are not supported)"
        )
    context = _local(context_text, cwd)
    dockerfile_text = a.get("dockerfile", "Dockerfile")
    if not isinstance(dockerfile_text, str):
        raise BakeError(f"bake target {name!r}: dockerfile is not a path")
    dockerfile = (context / dockerfile_text).resolve()
    platforms = target.strings("platforms")
    if not platforms:
        raise BakeError(
            f"bake target {name!r} has no platforms",
            hint='set platforms = ["linux/arm64"] (buildx 0.13 leaves a compose service\'s '
            "platforms out of what bake prints: use a newer buildx or an HCL override)",
        )
    inputs = _inputs(target, cwd)
    out = []
    for text in platforms:
        try:
            platform = Platform.parse(text, default_arch="unknown").normalized()
        except InvalidPlatform as exc:
            raise BakeError(f"bake target {name!r}: platform {text!r}: {exc.message}") from None
        target_stage = a.get("target")
        out.append(
            Variant(
                platform,
                context,
                dockerfile,
                MappingProxyType(target.string_map("args")),
                target_stage if isinstance(target_stage, str) else None,
                None,
                MappingProxyType(target.string_map("labels")),
                inputs,
                bake_target=name,
            )
        )
    return out


def with_bake_variants(spec: Spec, definition: BakeDefinition, names: Sequence[str] = ()) -> Spec:
    """``spec`` with the variants of Bake targets ``names`` (default: the spec's ``bake``
    targets, else the ``default`` group) instead of its own.

    The spec keeps its images, tags and verification. Raises :class:`BakeError` for a
    target that cannot be a variant, and for a ``verify.expect-output`` platform that no
    target builds.
    """
    chosen = list(names) or list(spec.bake.targets if spec.bake is not None else ())
    variants = tuple(bake_variants(definition, chosen))
    built = {v.platform for v in variants}
    for platform in spec.verify.expect_output:
        if platform not in built:
            known = ", ".join(str(p) for p in built)
            raise BakeError(
                f"{spec.path.name}: verify.expect-output names {platform}, which no Bake "
                f"target builds ({known})"
            )
    return replace(spec, variants=variants)


def spec_from_bake(definition: BakeDefinition, names: Sequence[str], path: Path) -> Spec:
    """A spec made of Bake targets alone: the variants are the targets', the images the
    repositories their ``tags`` name (every target's, in order), the tag ``latest``.

    ``path`` is the Bake file (its directory is where git is asked for the version).
    Raises :class:`BakeError` when no target names an image in ``tags``.
    """
    variants = tuple(bake_variants(definition, names))
    chosen = definition.expand(names)
    images: dict[str, Reference] = {}
    for name in chosen:
        target = definition.targets[name]
        for text in target.strings("tags"):
            try:
                ref = Reference.parse(text)
            except InvalidReference as exc:
                raise BakeError(f"bake target {name!r}: tags: {exc.message}") from None
            images.setdefault(ref.name, Reference.parse(ref.name))
    if not images:
        raise BakeError(
            "the Bake targets name no image in tags, so there is nowhere to push",
            hint="write a polyarch.yaml with image: (and bake:), or give the targets tags",
        )
    return Spec(
        path.resolve(),
        tuple(images.values()),
        DEFAULT_TAGS,
        variants,
        tag_rules=tuple(parse_rule(tag) for tag in DEFAULT_TAGS),
    )


def resolve_bake(
    spec: Spec | None,
    files: Sequence[str | Path] = (),
    targets: Sequence[str] = (),
    *,
    docker: str = "docker",
    env: Mapping[str, str] | None = None,
) -> Spec:
    """The spec whose variants are Bake targets: ``files`` (else the spec's ``bake.file``)
    printed by ``docker buildx bake --print`` in the first file's directory, ``targets``
    (else the spec's ``bake.targets``, else the ``default`` group).

    With a spec, its images, tags and verification stay (:func:`with_bake_variants`);
    without, the targets' ``tags`` name the images (:func:`spec_from_bake`). Relative
    paths in the files are taken from the first file's directory (buildx takes them from
    where bake runs; run from there, it is the same). Raises :class:`BakeError` without
    a file, :class:`~polyarch.engine.bake.BakeFailed` when buildx fails.
    """
    source = spec.bake if spec is not None else None
    paths = [Path(f).resolve() for f in files] or list(source.files if source else ())
    if not paths:
        raise BakeError("no Bake file given", hint="name one, or write bake: in the spec")
    names = list(targets) or list(source.targets if source else ())
    definition = bake_print(paths, names, cwd=paths[0].parent, docker=docker, env=env)
    if spec is not None:
        return with_bake_variants(spec, definition, names)
    return spec_from_bake(definition, names, paths[0])
