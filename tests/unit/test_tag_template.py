"""The Handlebars subset of tag rules and moment's date formats."""

from __future__ import annotations

import datetime as dt

import pytest

from polyarch.pipeline.tags.template import Template, TemplateError, date_helper, format_date

WHEN = dt.datetime(2020, 1, 10, 0, 30, 5, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("{{major}}.{{minor}}", "3.14"),
        ("v{{ major }}", "v3"),
        ("{{{major}}}", "3"),
        ("a{{! a comment }}b", "ab"),
        ("\\{{major}}", "{{major}}"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_render(source: str, rendered: str) -> None:
    assert Template.parse(source).render({"major": "3", "minor": "14"}) == rendered


def test_is_only() -> None:
    assert Template.parse("{{raw}}").is_only == "raw"
    assert Template.parse("{{ raw }}").is_only == "raw"
    assert Template.parse("{{raw}}.x").is_only is None
    assert Template.parse("v{{raw}}").is_only is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{major", "is not closed"),
        ("{{#if x}}y{{/if}}", "no block helpers"),
        ("{{> partial}}", "no block helpers"),
        ("{{a.b}}", "paths are not supported"),
        ("{{}}", "empty expression"),
        ("{{date YYYY}}", "argument 'YYYY' of date is not quoted"),
    ],
)
def test_refused(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Template.parse(source)


@pytest.mark.parametrize(
    ("pattern", "tz", "text"),
    [
        ("YYYYMMDD", "UTC", "20200110"),
        ("YYYYMMDD-HHmmss", "Asia/Tokyo", "20200110-093005"),
        ("YYYY-MM-DD[T]HH:mm:ss.SSSZ", "UTC", "2020-01-10T00:30:05.123+00:00"),
        ("YY M D H m s", "UTC", "20 1 10 0 30 5"),
        ("ddd dddd MMM MMMM Q", "UTC", "Fri Friday Jan January 1"),
        ("hh:mm A", "America/New_York", "07:30 PM"),
        ("X", "UTC", "1578616205"),
        ("ZZ", "Asia/Kolkata", "+0530"),
        ("[week] WW E", "UTC", "week 02 5"),
        (None, "UTC", "2020-01-10T00:30:05Z"),
        (None, "Asia/Tokyo", "2020-01-10T09:30:05+09:00"),
    ],
)
def test_format_date(pattern: str | None, tz: str, text: str) -> None:
    assert format_date(WHEN, pattern, tz) == text


def test_format_errors() -> None:
    with pytest.raises(TemplateError, match="token 'Do' is not supported"):
        format_date(WHEN, "Do MMMM", "UTC")
    with pytest.raises(TemplateError, match="unknown time zone 'Mars/Base'"):
        format_date(WHEN, "YYYY", "Mars/Base")
    helper = date_helper(WHEN)
    assert helper(["YYYY"], {"tz": "UTC"}) == "2020"
    with pytest.raises(TemplateError, match="unknown format attribute"):
        helper(["YYYY"], {"format": "x"})
