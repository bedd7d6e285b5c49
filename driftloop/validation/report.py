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
    rule: str | None = Field(default=None, description="driftloop's rule name, from meta")
    severity: str = Field(
        default="critical", description="GX severity: critical quarantines, warning publishes"
    )


class CheckOutcome(BaseModel):
    """One expectation of the suite and whether the batch met it."""

    expectation: str = Field(description="GX expectation type")
    column: str | None = None
    success: bool
    severity: str


class ValidationReport(BaseModel):
    """The outcome of validating one batch, with where its full result and Data Docs are.

    ``success`` is true when no critical expectation failed: the batch may be published,
    carrying its ``warnings`` (failed warning-tier expectations) with it.
    """

    success: bool
    statistics: dict[str, Any]
    failures: list[FailedExpectation] = Field(description="Failed critical expectations")
    warnings: list[FailedExpectation] = Field(
        default_factory=list, description="Failed warning-tier expectations"
    )
    checks: list[CheckOutcome] = Field(
        default_factory=list, description="Every expectation evaluated, met or not"
    )
    result_path: Path
    docs_path: Path
    rows: int

    def describe(self, source: str) -> str:
        """One message naming ``source``, every failed expectation, and where the result is."""
        evaluated = self.statistics.get("evaluated_expectations")
        if self.success:
            head = f"batch {source} passed validation ({evaluated} expectations)"
            if not self.warnings:
                return head
            return "\n".join(
                [f"{head} with {len(self.warnings)} validation warnings:", *self.warning_lines()]
            )
        lines = [
            f"batch {source} failed validation: {len(self.failures)} critical of "
            f"{evaluated} expectations failed",
            *(f"  - {f.expectation}: {f.message}" for f in self.failures),
        ]
        if self.warnings:
            lines += [f"and {len(self.warnings)} validation warnings:", *self.warning_lines()]
        return "\n".join(
            [*lines, f"full result: {self.result_path}", f"data docs: {self.docs_path}"]
        )

    def warning_lines(self) -> list[str]:
        """One indented line per warning."""
        return [f"  - {f.expectation}: {f.message}" for f in self.warnings]

    def warning_records(self) -> list[dict[str, Any]]:
        """The warnings as small JSON records, for commit metadata and the monitor.

        Each is ``{"column", "expectation", "rule", "message"}``.
        """
        return [
            {
                "column": f.column,
                "expectation": f.expectation,
                "rule": f.rule,
                "message": f.message,
            }
            for f in self.warnings
        ]
