"""Helpers for the signature tests: forging what attackers and mistakes produce.

Each forgery is made the way it happens for real, through the library's Repository: a
payload rewritten and re-pushed with the ``.sig`` manifest pointed at it (the signature
kept), a bundle whose statement was changed, a signature manifest copied from another
image's tag. Real cosign rejects each (the tests check that too).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from polyarch.content.referrers.discovery import ReferrerDiscovery
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, parse_manifest
from polyarch.domain.signing.bundle import PREDICATE_ANNOTATION
from polyarch.domain.signing.legacy import signature_tag
from polyarch.errors import ManifestUnknown
from polyarch.storage.referrers_tag import referrers_tag
from polyarch.storage.repository import Repository

from .images import push_blob


def _put_json(repo: Repository, doc: dict[str, Any], media_type: str, tag: str | None) -> Digest:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    manifest = parse_manifest(raw, media_type)
    repo.put_manifest(manifest, tag)
    return manifest.digest


def tamper_legacy_payload(repo: Repository, subject: Digest) -> None:
    """Rewrite the first payload of ``subject``'s ``.sig`` (another docker-reference),
    push it, and point the manifest's layer at it, keeping the signature annotation."""
    tag = signature_tag(subject)
    manifest = repo.get_manifest(tag)
    assert isinstance(manifest, ImageManifest)
    doc = json.loads(manifest.raw)
    layer = manifest.layers[0]
    payload = json.loads(repo.read_blob(layer))
    payload["critical"]["identity"]["docker-reference"] = "attacker.example/elsewhere"
    new = push_blob(repo, layer.media_type, json.dumps(payload, separators=(",", ":")).encode())
    doc["layers"][0]["digest"] = str(new.digest)
    doc["layers"][0]["size"] = new.size
    _put_json(repo, doc, manifest.media_type, tag)


def bundle_referrers(repo: Repository, subject: Digest) -> list[ImageManifest]:
    """The bundle-form signature referrers of ``subject``."""
    out = []
    for r in ReferrerDiscovery(repo).direct(subject):
        m = r.manifest
        if isinstance(m, ImageManifest) and m.annotations.get(PREDICATE_ANNOTATION):
            out.append(m)
    return out


def _replace_in_tag_schema(repo: Repository, subject: Digest, old: Digest, new: Descriptor) -> None:
    tag = referrers_tag(subject)
    index = repo.get_manifest(tag)
    assert isinstance(index, Index)
    doc = json.loads(index.raw)
    doc["manifests"] = [m for m in doc["manifests"] if m["digest"] != str(old)]
    doc["manifests"].append(
        {**new.to_json(), "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}
    )
    _put_json(repo, doc, mediatype.OCI_INDEX, tag)


def tamper_bundle(repo: Repository, subject: Digest) -> None:
    """Change the statement inside ``subject``'s bundle (an annotation added to its subject),
    keep its signature, and put the rewritten referrer in place of the original (tag schema)."""
    [referrer] = bundle_referrers(repo, subject)
    layer = referrer.layers[0]
    bundle = json.loads(repo.read_blob(layer))
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["subject"][0]["annotations"] = {"approved": "yes"}
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(
        json.dumps(statement, separators=(",", ":")).encode()
    ).decode()
    new_layer = push_blob(
        repo, layer.media_type, json.dumps(bundle, separators=(",", ":")).encode()
    )
    doc = json.loads(referrer.raw)
    doc["layers"][0].update(digest=str(new_layer.digest), size=new_layer.size)
    digest = _put_json(repo, doc, mediatype.OCI_MANIFEST, None)
    raw = json.dumps(doc, separators=(",", ":")).encode()
    _replace_in_tag_schema(
        repo, subject, referrer.digest, Descriptor(mediatype.OCI_MANIFEST, digest, len(raw))
    )


def move_legacy_signature(repo: Repository, source: Digest, dest: Digest) -> None:
    """Copy ``source``'s ``.sig`` manifest to ``dest``'s ``.sig`` tag (a copy-paste mistake)."""
    manifest = repo.get_manifest(signature_tag(source))
    repo.put_manifest(manifest, signature_tag(dest))


def move_bundle(repo: Repository, source: Digest, dest: Descriptor) -> None:
    """Re-push ``source``'s bundle referrer with ``dest`` as its subject (tag schema updated)."""
    [referrer] = bundle_referrers(repo, source)
    doc = json.loads(referrer.raw)
    doc["subject"] = {"mediaType": dest.media_type, "digest": str(dest.digest), "size": dest.size}
    digest = _put_json(repo, doc, mediatype.OCI_MANIFEST, None)
    raw = json.dumps(doc, separators=(",", ":")).encode()
    tag = referrers_tag(dest.digest)
    entry = {
        "mediaType": mediatype.OCI_MANIFEST,
        "digest": str(digest),
        "size": len(raw),
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
    try:
        current = repo.get_manifest(tag)
        index_doc = json.loads(current.raw)
    except ManifestUnknown:
        index_doc = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": []}
    index_doc["manifests"].append(entry)
    _put_json(repo, index_doc, mediatype.OCI_INDEX, tag)
