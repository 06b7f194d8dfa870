"""Issue 25, kind 4: the cost of a command is linear in the size of its work.

An ``oci:`` layout keeps every tag in one file, ``index.json``. A command should read it a
number of times that does not grow with the number of tags or of manifests it touches,
and handle its entries in time linear in their number. The work is counted, never timed:

* opens of ``index.json`` by the real CLI (a ``sys.addaudithook`` hook in the child,
  :func:`support.measured.run_counting_opens`; the child is stopped once the count is far
  beyond the bound, so the unfixed code fails fast instead of doing all its work);
* comparisons of tag strings while the tags are listed (the tag values of ``index.json``
  are handed to the library as a ``str`` subclass that counts ``==``, and stops at a
  budget), through the public :func:`polyarch.list_tags`.

Measured before the fix (issue 25): ``delete`` of one tag took 18 s at 5,000 tags and 84 s
at 20,000 (it reads ``index.json`` again for each of up to 500 tags to find which ones
point at the digest); ``tags`` took 80 s at 100,000 (de-duplication is a list scan per
tag: quadratic). Measured here (``run_counting_opens`` without a stop): ``delete`` of one
tag at 5,000 tags opened index.json 503 times (55 s on the shared 2-core machine); a
``copy`` of an index of 16 children out of a layout opened it 1,771 times at 100 tags
(14.6 s) and 6,871 times at 400 tags (108.6 s), and did not end within 600 s at 20,000:
the layout's referrers lookup reads every index.json entry's manifest, each read opening
index.json again, once per subject.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from polyarch import list_tags
from polyarch.domain import mediatype as mt
from polyarch.domain.manifest import ImageManifest, build_index
from polyarch.domain.platform import Platform
from polyarch.storage.layout.repository import LayoutRepository
from support.measured import run_counting_opens
from support.random_blobs import push_random_image

pytestmark = pytest.mark.integration

REF_NAME = "org.opencontainers.image.ref.name"
#: Opens of index.json any one command needs, whatever the size of the layout: one read,
#: one read-modify-write under the lock, and slack for a check.
OPENS_BOUND = 4
#: The CLI is stopped at this many opens (the unfixed ``delete`` makes about 500).
STOP_AT = 10


def write_tags(layout: Path, manifest: ImageManifest, count: int, extra: list[Any] = ()) -> None:
    """index.json with ``count`` tags ``t0``... on ``manifest`` (and ``extra`` entries)."""
    entry = {"mediaType": manifest.media_type, "digest": str(manifest.digest)}
    entry["size"] = manifest.size
    entries = [{**entry, "annotations": {REF_NAME: f"t{i}"}} for i in range(count)]
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [*entries, *extra]}
    (layout / "index.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def image_layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImageManifest]:
    """A layout holding one small image (its tags are written per test)."""
    layout = tmp_path_factory.mktemp("scale") / "layout"
    layout.mkdir()
    repo = LayoutRepository(layout)
    manifest = push_random_image(repo, "scale", "linux/amd64", layers=1, layer_size=1024)
    repo.put_manifest(manifest)
    return layout, manifest


def _opens(*args: str) -> tuple[int, int, str]:
    result, counts = run_counting_opens(["index.json"], *args, stop_at=STOP_AT)
    return result.code, counts["index.json"], result.err


@pytest.mark.parametrize("tags", [5_000, 20_000])
def test_delete_of_one_tag_reads_index_json_a_bounded_number_of_times(
    image_layout: tuple[Path, ImageManifest], tags: int
) -> None:
    layout, manifest = image_layout
    write_tags(layout, manifest, tags)
    code, opens, err = _opens("delete", "-q", f"oci:{layout}:t17")
    shown = f"at least {opens} (stopped there)" if code == 97 else str(opens)
    assert opens <= OPENS_BOUND, f"{tags} tags: index.json opened {shown} times; {err[-300:]}"
    assert code == 0, err
    remaining = LayoutRepository(layout).list_tags()
    assert len(remaining) == tags - 1 and "t17" not in remaining


@pytest.mark.parametrize("tags", [5_000, 20_000])
def test_delete_by_digest_names_every_tag_in_a_bounded_number_of_reads(
    image_layout: tuple[Path, ImageManifest], tags: int
) -> None:
    """A layout says which tags point at a digest from one read: no 500-tag cap needed."""
    layout, manifest = image_layout
    write_tags(layout, manifest, tags)
    result, counts = run_counting_opens(
        ["index.json"],
        "delete",
        "--dry-run",
        "--json",
        f"oci:{layout}@{manifest.digest}",
        stop_at=STOP_AT,
    )
    opens = counts["index.json"]
    shown = f"at least {opens} (stopped there)" if result.code == 97 else str(opens)
    assert opens <= OPENS_BOUND, f"{tags} tags: index.json opened {shown} times"
    plan = json.loads(result.out)
    assert (len(plan["tags"]), plan["tagsComplete"]) == (tags, True)


def test_copy_of_an_index_out_of_a_large_layout_reads_index_json_a_bounded_number_of_times(
    tmp_path: Path,
) -> None:
    """Each child manifest read by digest re-read index.json (and each written one too)."""
    layout = tmp_path / "source"
    layout.mkdir()
    repo = LayoutRepository(layout)
    children = [
        push_random_image(repo, f"child{i}", "linux/amd64", layers=1, layer_size=256)
        for i in range(16)
    ]
    index = build_index([c.descriptor(Platform.parse("linux/amd64")) for c in children])
    repo.put_manifest(index)
    tagged = {"mediaType": index.media_type, "digest": str(index.digest), "size": index.size}
    tagged["annotations"] = {REF_NAME: "multi"}
    write_tags(layout, children[0], 20_000, extra=[tagged])
    code, opens, err = _opens("copy", "-q", f"oci:{layout}:multi", f"oci:{tmp_path / 'out'}:v1")
    shown = f"at least {opens} (stopped there)" if code == 97 else str(opens)
    # Two layouts: a read of each, the target's read-modify-write, and slack.
    assert opens <= 2 * OPENS_BOUND, f"16 children: index.json opened {shown} times; {err[-300:]}"
    assert code == 0, err


# -- comparisons while listing tags ------------------------------------------------------------


class Budget(Exception):
    """Raised when the comparisons pass their budget."""


class CountingTag(str):
    """A tag value that counts ``==`` against other strings, up to a budget."""

    comparisons = 0
    budget = 0

    def __eq__(self, other: object) -> bool:
        CountingTag.comparisons += 1
        if CountingTag.comparisons > CountingTag.budget:
            raise Budget
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


def _counting(value: Any) -> Any:
    """``value`` (parsed JSON) with every tag annotation's value a :class:`CountingTag`."""
    if isinstance(value, dict):
        return {
            k: CountingTag(v) if k == REF_NAME and isinstance(v, str) else _counting(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_counting(v) for v in value]
    return value


@pytest.fixture
def counted_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Make ``json.loads`` hand out counting tags; the fixture's value sets the budget."""
    real = json.loads

    def loads(text: Any, *args: Any, **kwargs: Any) -> Any:
        return _counting(real(text, *args, **kwargs))

    def arm(budget: int) -> None:
        CountingTag.comparisons, CountingTag.budget = 0, budget

    monkeypatch.setattr(json, "loads", loads)
    yield arm


@pytest.mark.parametrize("tags", [5_000, 20_000, 100_000])
def test_listing_tags_compares_a_linear_number_of_times(
    image_layout: tuple[Path, ImageManifest], counted_loads: Callable[[int], None], tags: int
) -> None:
    layout, manifest = image_layout
    write_tags(layout, manifest, tags)
    budget = 4 * tags
    counted_loads(budget)
    try:
        listed = list_tags(f"oci:{layout}").tags
    except Budget:
        pytest.fail(
            f"{tags} tags: more than {budget} tag comparisons (4 per tag) to list them",
            pytrace=False,
        )
    assert len(listed) == tags
