"""What validating one batch gives: a report with its failures and where GX's result is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    pass


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
