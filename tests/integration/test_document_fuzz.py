"""Issue 25, kind 5: no document a registry serves ends the CLI in a crash.

A hypothesis property over the documents polyarch parses and prints, served by the real
registry: an image config (a blob: any JSON at all), an image manifest (annotations,
``artifactType``, layer media types and annotations), an index (each platform field,
annotations) and a referrer found through the referrers tag schema (its ``artifactType``
and annotations). CNCF distribution stores every string of them as given (it checks the
JSON types of the fields it knows and that the blobs exist, nothing else), so each example
is pushed to it as raw bytes, bypassing polyarch, then every command that prints them runs
through the CLI's own entry point (:func:`polyarch.cli.main.main`, in this process for
speed) with stdout and stderr strict UTF-8 streams, as a pipe to a UTF-8 reader is.

The property: exit code 0, 1 or 2; no ``internal error`` and no traceback; ``--json``
output parses. Documents of the wrong JSON types, which a real registry refuses to store,
come from :class:`support.hostile.HostileRegistry`; headers a registry cannot be made to
send (a ``Retry-After`` that is not a number) from a proxy in front of the real one.

Found before the fix (the explicit examples below): a referrer whose ``artifactType``
holds ``[/]`` ends ``inspect --referrers`` in ``internal error: MarkupError`` (rich
markup); a platform variant or a config label holding a lone surrogate (``\\ud800``
escape) ends ``inspect``, ``verify`` and ``config`` in ``internal error:
UnicodeEncodeError``; a config ``Env`` entry with ``\\udcff`` writes a byte that is not
UTF-8 to stdout; a 429 with ``Retry-After: ¹`` ends any command in ``internal error:
ValueError``, and so do ``COLUMNS=¹`` and ``--insecure 127.0.0.1:¹`` (``str.isdigit``
accepts digits that ``int`` refuses); a layout directory named ``builds[/]x`` ends
``copy``, ``config`` and ``create`` in ``internal error: MarkupError``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyarch import Context, Digest, Reference, TransportSettings
from polyarch.cli.main import main
from polyarch.domain import mediatype
from support.cli import run_cli
from support.documents import TEMPLATES, TEXT, mutated, raw
from support.gateproxy import GateProxy, Refuse
from support.hostile import HostileRegistry
from support.images import push_image
from support.registry import RegistryServer

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("POLYARCH_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- running the CLI in this process, on strict UTF-8 streams ----------------------------------


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    out: bytes
    err: bytes
    escaped: str = ""

    def problems(self) -> list[str]:
        """What breaks the property, if anything."""
        found = []
        if self.escaped:
            found.append(f"an exception escaped main: {self.escaped}")
        if self.code not in (0, 1, 2):
            found.append(f"exit code {self.code}")
        for name, data in (("stdout", self.out), ("stderr", self.err)):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                found.append(f"{name} is not UTF-8: {exc}")
        err = self.err.decode("utf-8", "replace")
        if "internal error" in err or "Traceback" in err:
            found.append(err.strip().splitlines()[-1][:300])
        if "--json" in self.args and self.code in (0, 1) and self.out:
            try:
                json.loads(self.out)
            except ValueError:
                found.append("--json output is not JSON")
        return found


def run_cli_here(*args: str) -> Run:
    """``polyarch ARGS`` through the CLI's entry point, stdout and stderr strict UTF-8."""
    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    err_text = io.TextIOWrapper(err, encoding="utf-8", errors="strict", write_through=True)
    escaped = ""
    code = -1
    with contextlib.redirect_stdout(out_text), contextlib.redirect_stderr(err_text):
        try:
            code = main(list(args))
        except BaseException as exc:  # the property is that nothing gets here
            escaped = f"{type(exc).__name__}: {exc}"
    return Run(args, code, out.getvalue(), err.getvalue(), escaped)


def assert_property(runs: list[Run]) -> None:
    failures = [f"{' '.join(r.args[:3])}: {p}" for r in runs for p in r.problems()]
    assert not failures, "\n".join(failures)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("POLYARCH_USERNAME", "POLYARCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "no-auth.json"))


# -- pushing raw documents to the real registry ------------------------------------------------


class RawPush:
    """Blobs and manifests pushed as given bytes (polyarch's own parsers never see them)."""

    def __init__(self, registry: RegistryServer, repository: str) -> None:
        self.host = registry.host
        self.repository = repository
        self._http = httpx.Client(base_url=registry.url, timeout=30)

    def close(self) -> None:
        self._http.close()

    def blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        digest = str(Digest.of(data))
        started = self._http.post(f"/v2/{self.repository}/blobs/uploads/")
        location = started.headers["Location"]
        joined = "&" if "?" in location else "?"
        done = self._http.put(f"{location}{joined}digest={digest}", content=data)
        assert done.status_code == 201, done.text
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, doc: Any, media_type: str, tag: str | None = None) -> dict[str, Any] | None:
        """Push ``doc``; its descriptor, or None when the registry refuses it."""
        data = raw(doc)
        digest = str(Digest.of(data))
        answer = self._http.put(
            f"/v2/{self.repository}/manifests/{tag or digest}",
            content=data,
            headers={"Content-Type": media_type},
        )
        if answer.status_code != 201:
            return None
        return {"mediaType": media_type, "digest": digest, "size": len(data)}


@dataclass(frozen=True)
class Documents:
    """What one example serves (every string may be anything)."""

    config: Any = field(default_factory=lambda: TEMPLATES["config"])
    annotations: dict[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    layer_media_type: str = mediatype.OCI_LAYER_GZIP
    platform: dict[str, Any] = field(
        default_factory=lambda: {"architecture": "amd64", "os": "linux"}
    )
    index_annotations: dict[str, str] = field(default_factory=dict)
    referrer_type: str = "application/vnd.example.sbom"
    referrer_annotations: dict[str, str] = field(default_factory=dict)


NONEMPTY = TEXT.filter(bool)
ANNOTATIONS = st.dictionaries(TEXT, TEXT, max_size=3)


@st.composite
def documents(draw: st.DrawFn) -> Documents:
    platform: dict[str, Any] = {"architecture": draw(NONEMPTY), "os": draw(NONEMPTY)}
    for key in ("variant", "os.version"):
        if draw(st.booleans()):
            platform[key] = draw(TEXT)
    if draw(st.booleans()):
        platform["os.features"] = draw(st.lists(TEXT, max_size=2))
    return Documents(
        config=draw(mutated(TEMPLATES["config"])),
        annotations=draw(ANNOTATIONS),
        artifact_type=draw(st.none() | NONEMPTY),
        layer_media_type=draw(st.sampled_from([mediatype.OCI_LAYER_GZIP]) | NONEMPTY),
        platform=platform,
        index_annotations=draw(ANNOTATIONS),
        referrer_type=draw(NONEMPTY),
        referrer_annotations=draw(ANNOTATIONS),
    )


@dataclass(frozen=True)
class Served:
    image: str
    index: str


def serve(push: RawPush, docs: Documents) -> Served | None:
    """Push the documents: an image ``:img`` with a referrer, an index ``:idx`` of it."""
    config = push.blob(raw(docs.config), mediatype.OCI_CONFIG)
    layer = push.blob(uuid.uuid4().bytes, docs.layer_media_type)
    layer["annotations"] = docs.annotations
    image_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": config,
        "layers": [layer],
        "annotations": docs.annotations,
    }
    if docs.artifact_type is not None:
        image_doc["artifactType"] = docs.artifact_type
    image = push.manifest(image_doc, mediatype.OCI_MANIFEST, "img")
    if image is None:
        return None
    empty = push.blob(b"{}", "application/vnd.oci.empty.v1+json")
    referrer_doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": docs.referrer_type,
        "config": empty,
        "layers": [empty],
        "subject": image,
        "annotations": docs.referrer_annotations,
    }
    referrer = push.manifest(referrer_doc, mediatype.OCI_MANIFEST)
    if referrer is None:
        return None
    schema = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_INDEX,
        "manifests": [
            {
                **referrer,
                "artifactType": docs.referrer_type,
                "annotations": docs.referrer_annotations,
            }
        ],
    }
    schema_tag = image["digest"].replace(":", "-")
    if push.manifest(schema, mediatype.OCI_INDEX, schema_tag) is None:
        return None
    index_doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_INDEX,
        "manifests": [{**image, "platform": docs.platform, "annotations": docs.annotations}],
        "annotations": docs.index_annotations,
    }
    if push.manifest(index_doc, mediatype.OCI_INDEX, "idx") is None:
        return None
    name = f"{push.host}/{push.repository}"
    return Served(f"{name}:img", f"{name}:idx")


def commands(served: Served, layout: str) -> list[tuple[str, ...]]:
    image, index = served.image, served.index
    return [
        ("inspect", image),
        ("inspect", "--referrers", image),
        ("--json", "inspect", "--referrers", image),
        ("inspect", index),
        ("--json", "inspect", index),
        ("config", image),
        ("--json", "config", image),
        ("resolve", index),
        ("verify", index),
        ("--json", "verify", index),
        ("copy", "-q", index, f"oci:{layout}:v1"),
    ]


@pytest.fixture(scope="module")
def push(registry: RegistryServer) -> Iterator[RawPush]:
    pusher = RawPush(registry, f"fuzz-{uuid.uuid4().hex[:8]}/app")
    yield pusher
    pusher.close()


# The instances found, kept as explicit examples so that each is checked on every run.
MARKUP_REFERRER = Documents(referrer_type="application/vnd.example[/]")
SURROGATE_VARIANT = Documents(
    platform={"architecture": "amd64", "os": "linux", "variant": "\ud800"}
)
SURROGATE_LABEL = Documents(config={**TEMPLATES["config"], "config": {"Labels": {"a": "\ud800"}}})
ESCAPED_ENV = Documents(config={**TEMPLATES["config"], "config": {"Env": ["A=\udcff"]}})


@FUZZ
@example(MARKUP_REFERRER)
@example(SURROGATE_VARIANT)
@example(SURROGATE_LABEL)
@example(ESCAPED_ENV)
@given(documents())
def test_documents_a_registry_serves_never_crash_the_cli(push: RawPush, docs: Documents) -> None:
    served = serve(push, docs)
    if served is None:
        return  # the registry refused to store it: nothing a client can be served
    with tempfile.TemporaryDirectory(prefix="fuzz-layout-") as layout:
        assert_property([run_cli_here(*args) for args in commands(served, layout)])


# -- documents of any JSON shape, from a registry that stores anything ---------------------------


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


@FUZZ
@given(
    st.sampled_from(["image", "index"]).flatmap(lambda k: mutated(TEMPLATES[k])),
    st.sampled_from([mediatype.OCI_MANIFEST, mediatype.OCI_INDEX, mediatype.DOCKER_MANIFEST]),
)
def test_documents_of_any_shape_never_crash_the_cli(
    hostile: HostileRegistry, doc: Any, media_type: str
) -> None:
    hostile.reset()
    image, _, _ = hostile.add_image("app", "img")
    # Point the document's own descriptors at content that exists, when they have the shape.
    if isinstance(doc, dict):
        for entry in doc.get("manifests") or []:
            if isinstance(entry, dict) and "digest" in entry:
                entry.update({k: v for k, v in image.to_json().items() if k != "platform"})
    hostile.put_manifest("app", raw(doc), media_type, "v1")
    ref = f"{hostile.host}/app:v1"
    with tempfile.TemporaryDirectory(prefix="fuzz-layout-") as layout:
        runs = [
            run_cli_here(*args)
            for args in (
                ("inspect", ref),
                ("--json", "inspect", ref),
                ("resolve", ref),
                ("verify", ref),
                ("--json", "verify", ref),
                ("copy", "-q", ref, f"oci:{layout}:v1"),
            )
        ]
    assert_property(runs)


# -- headers a registry cannot be made to send ---------------------------------------------------


@pytest.mark.parametrize("retry_after", ["\u00b9", "1e400", "9" * 400, "-1", "Fri, 31 Dec 9999"])
def test_a_retry_after_that_is_not_a_number_is_no_crash(
    registry: RegistryServer, retry_after: str
) -> None:
    ref = Reference.parse(f"{registry.host}/fuzz-{uuid.uuid4().hex[:8]}/app:v1")
    with Context(TransportSettings()) as ctx:
        push_image(ctx.repository(ref), "linux/amd64", tag="v1")
    refused = Refuse(429, {"Retry-After": retry_after, "Content-Type": "application/json"}, b"{}")
    with GateProxy(registry.host, lambda seen: refused) as proxy:
        run = run_cli_here("inspect", "--timeout", "5", f"{proxy.host}/{ref.repository}:v1")
    assert_property([run])
    assert run.code == 1


# -- digits that are not ASCII, from the user and the environment --------------------------------


@pytest.mark.parametrize("where", ["COLUMNS", "--insecure"])
def test_digits_that_are_not_ascii_are_no_crash(registry: RegistryServer, where: str) -> None:
    """``str.isdigit()`` accepts ``¹`` and ``int()`` does not: both ended in an internal
    error (``COLUMNS=¹``: ValueError; ``--insecure 127.0.0.1:¹``: InvalidURL)."""
    ref = f"{registry.host}/fuzz-{uuid.uuid4().hex[:8]}/app:v1"
    with Context(TransportSettings()) as ctx:
        push_image(ctx.repository(Reference.parse(ref)), "linux/amd64", tag="v1")
    if where == "COLUMNS":
        result = run_cli("inspect", ref, env={"COLUMNS": "\u00b9"})
    else:
        result = run_cli("inspect", "--insecure", "127.0.0.1:\u00b9", ref)
    assert result.code in (0, 2), result.err
    assert "internal error" not in result.err and "Traceback" not in result.err, result.err


# -- names the user gives, printed --------------------------------------------------------------


@pytest.mark.parametrize("command", ["copy", "config", "create", "inspect", "resolve"])
def test_a_layout_path_with_brackets_is_printed_as_text(
    tmp_path: Path, registry: RegistryServer, command: str
) -> None:
    """A directory named like rich markup (``[/]``): ``copy``, ``config`` and ``create``
    ended in ``internal error: MarkupError`` after doing their work."""
    ref = Reference.parse(f"{registry.host}/fuzz-{uuid.uuid4().hex[:8]}/app:v1")
    with Context(TransportSettings()) as ctx:
        push_image(ctx.repository(ref), "linux/amd64", tag="v1")
    parent = tmp_path / "builds[/]x"  # the "/" makes it two directories: "builds[" and "]x"
    parent.mkdir(parents=True)
    layout = f"oci:{parent / 'out'}"
    if command != "copy":
        assert run_cli("copy", "-q", str(ref), f"{layout}:v1").code == 0
    args = {
        "copy": ["copy", str(ref), f"{layout}:v1"],
        "config": ["config", f"{layout}:v1"],
        "create": ["create", "-t", f"{layout}:idx", f"{layout}:v1"],
        "inspect": ["inspect", f"{layout}:v1"],
        "resolve": ["resolve", f"{layout}:v1"],
    }[command]
    result = run_cli(*args)
    assert result.code == 0 and "internal error" not in result.err, result.err
