"""The coverage evidence: per feature, what each probe executed and read back (a details page:
the matrix on the main page links here)."""

from __future__ import annotations

from harness.report.coverage import evidence, features_of, probed
from harness.report.page import Page


def render(page: Page) -> list[str]:
    if not probed(page.results):
        return []
    return ["## Coverage evidence", "", *evidence(page.results, features_of(page.results))]
