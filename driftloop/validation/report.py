"""What validating one batch gives: a report with its failures and where GX's result is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class FailedExpectation(BaseModel):
    """One expectation a batch did not meet, summarised for people and logs."""

    expectation: str = Field(description="GX expectation type")
    column: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Its arguments, abridged")
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = Field(default_factory=list, description="Up to 5 offending values")
    observed: Any = Field(default=None, description="Observed value of a table-level check")
    message: str


class ValidationReport(BaseModel):
    """The outcome of validating one batch, with where its full result and Data Docs are."""

    success: bool
    statistics: dict[str, Any]
    failures: list[FailedExpectation]
    result_path: Path
    docs_path: Path
    rows: int

    def describe(self, source: str) -> str:
        """One message naming ``source``, every failed expectation, and where the result is."""
        stats = self.statistics
        if self.success:
            evaluated = stats.get("evaluated_expectations")
            return f"batch {source} passed validation ({evaluated} expectations)"
        lines = [
            f"batch {source} failed validation: {stats.get('unsuccessful_expectations')} of "
            f"{stats.get('evaluated_expectations')} expectations failed",
            *(f"  - {f.expectation}: {f.message}" for f in self.failures),
            f"full result: {self.result_path}",
            f"data docs: {self.docs_path}",
        ]
        return "\n".join(lines)
