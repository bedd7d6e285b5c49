"""A seeded generator of credit-risk loan applications, the demo dataset, with drift and corruption.

Applicants are drawn from two hidden traits (affluence and credit quality) so the features are
correlated the way real ones are. Whether an applicant defaults depends only on the recorded
features plus independent noise, through thresholds and interactions; so a covariate shift moves
the default rate but not the rule a model has to learn.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from driftloop.data.sources import Interval, to_parquet_bytes
from driftloop.spec import DatasetSpec, Feature, SourceSpec

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

ID_COLUMN = "application_id"
EVENT_TIME_COLUMN = "applied_at"
TARGET = "default"
TARGET_VALUES = ["no", "yes"]
POSITIVE_LABEL = "yes"

# Column -> stored dtype, in output order. Columns with missing values are float64.
NUMERIC_FEATURES = {
    "age": "int64",
    "income": "float64",
    "months_employed": "int64",
    "loan_amount": "float64",
    "loan_term_months": "int64",
    "interest_rate": "float64",
    "debt_to_income": "float64",
    "credit_history_years": "float64",
    "num_open_accounts": "int64",
    "num_delinquencies": "int64",
    "utilization": "float64",
    "savings": "float64",
}
CATEGORICAL_FEATURES = {
    "home_ownership": ["rent", "mortgage", "own", "other"],
    "purpose": [
        "debt_consolidation",
        "credit_card",
        "home_improvement",
        "car",
        "medical",
        "small_business",
        "education",
        "other",
    ],
    "employment_type": ["full_time", "part_time", "self_employed", "unemployed", "retired"],
    "region": ["north", "south", "east", "west", "central"],
}
MISSING_RATES = {
    "income": 0.02,
    "credit_history_years": 0.04,
    "utilization": 0.05,
    "savings": 0.08,
}
# Debt-to-income cannot be computed without the income, so it is missing where income is.
NULLABLE_FEATURES = frozenset({*MISSING_RATES, "debt_to_income"})
COLUMNS = [
    ID_COLUMN,
    EVENT_TIME_COLUMN,
    *NUMERIC_FEATURES,
    *CATEGORICAL_FEATURES,
    TARGET,
]

# An id is the window's start minute (YYYYMMDDhhmm) then a 7-digit row number: it fits int64.
_MAX_ROWS = 10_000_000
_TERMS = np.array([12, 24, 36, 48, 60])
# Probabilities and effects per category, in the order of CATEGORICAL_FEATURES.
_PURPOSE_P = [0.36, 0.2, 0.12, 0.1, 0.06, 0.06, 0.04, 0.06]
_PURPOSE_LOAN = np.array([0.2, -0.3, 0.4, 0.1, -0.4, 0.6, 0.2, -0.3])
_PURPOSE_RATE = np.array([0.0, 0.5, -0.5, -1.0, 1.0, 2.0, 0.5, 1.0])
_PURPOSE_RISK = np.array([0.1, 0.0, -0.3, -0.2, 0.35, 0.7, 0.2, 0.1])
_EMPLOYMENT_P_WORKING_AGE = [0.7, 0.12, 0.12, 0.05, 0.01]
_EMPLOYMENT_P_SENIOR = [0.3, 0.1, 0.1, 0.02, 0.48]
_EMPLOYMENT_INCOME = np.array([0.0, -0.6, 0.1, -1.3, -0.4])
_EMPLOYMENT_RISK = np.array([0.0, 0.35, 0.3, 1.0, 0.1])
_REGION_P = [0.22, 0.24, 0.2, 0.2, 0.14]
_REGION_INCOME = np.array([0.05, -0.1, 0.1, 0.05, -0.05])
_HOME_RISK = np.array([0.25, -0.1, -0.2, 0.3])
# Chosen so the default rate is about 12.5% with no drift.
_INTERCEPT = -3.46
_BAD_VALUES = np.array(["unknown", "?", "not provided", "TBD"], dtype=object)


class CorruptionConfig(BaseModel):
    """Data-quality faults to inject, for exercising validation and quarantine."""

    fraction: float = Field(
        default=0.05, gt=0, le=1, description="Share of rows out_of_range and wrong_type touch"
    )
    null_fraction: dict[str, float] = Field(
        default_factory=dict, description="Column -> fraction of rows set to null"
    )
    out_of_range: dict[str, float] = Field(
        default_factory=dict,
        description="Numeric feature -> impossible value (e.g. -1000) written into `fraction` rows",
    )
    wrong_type: list[str] = Field(
        default_factory=list,
        description="Numeric features given text in `fraction` rows; the column becomes text",
    )
    duplicate_ids: float = Field(
        default=0.0, ge=0, le=0.5, description="Fraction of rows that reuse another row's id"
    )
    drop_column: str | None = Field(default=None, description="Column left out of the batch")
    extra_column: str | None = Field(
        default=None, description="Unexpected column of random numbers added to the batch"
    )

    @model_validator(mode="after")
    def _known_columns(self) -> CorruptionConfig:
        _check_columns("null_fraction", self.null_fraction, COLUMNS)
        _check_columns("out_of_range", self.out_of_range, NUMERIC_FEATURES)
        _check_columns("wrong_type", self.wrong_type, NUMERIC_FEATURES)
        if self.drop_column is not None:
            _check_columns("drop_column", [self.drop_column], COLUMNS)
        if self.extra_column in COLUMNS:
            raise ValueError(f"extra_column {self.extra_column!r} is already a column")
        bad = {column: value for column, value in self.null_fraction.items() if not 0 <= value <= 1}
        if bad:
            raise ValueError(f"null_fraction: fractions must be between 0 and 1 (got {bad})")
        return self


class GeneratorConfig(BaseModel):
    """What to generate: seed, batch size, and optional drift and corruption."""

    seed: int = Field(default=0, ge=0)
    rows_per_batch: int = Field(default=10_000, ge=1, le=_MAX_ROWS)
    shift: dict[str, float] = Field(
        default_factory=dict,
        description="Numeric feature -> shift of its values in standard deviations (not clipped)",
    )
    new_categories: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Categorical feature -> unseen categories, given to new_category_fraction rows",
    )
    new_category_fraction: float = Field(default=0.1, ge=0, le=1)
    label_shift: float = Field(
        default=0.0,
        description="Added to the log-odds of default: 0.7 about doubles the odds (concept drift)",
    )
    relationship_shift: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of the features' effect on default that is turned around: 0 keeps "
        "the rule, 0.5 leaves the features saying nothing, 1 reverses it; the features "
        "themselves do not move (concept drift no input drift check sees)",
    )
    corruption: CorruptionConfig = Field(default_factory=CorruptionConfig)

    @model_validator(mode="after")
    def _known_columns(self) -> GeneratorConfig:
        _check_columns("shift", self.shift, NUMERIC_FEATURES)
        _check_columns("new_categories", self.new_categories, CATEGORICAL_FEATURES)
        for column, categories in self.new_categories.items():
            known = sorted(set(categories) & set(CATEGORICAL_FEATURES[column]))
            if known or not categories:
                raise ValueError(
                    f"new_categories[{column!r}] needs categories the column does not have yet "
                    f"(got {categories})"
                )
        return self


def _check_columns(field: str, columns: Iterable[str], allowed: Collection[str]) -> None:
    unknown = sorted(set(columns) - set(allowed))
    if unknown:
        raise ValueError(f"{field}: unknown columns {unknown} (choose from {list(allowed)})")


def generate_batch(config: GeneratorConfig, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Generate one batch of applications made in ``[start, end)``.

    The same config and window always give the same frame; ids are unique across batches whose
    windows start in different minutes.

    Raises:
        ValueError: ``start``/``end`` are naive or out of order, or the window is under a second.

    """
    window = Interval(start, end)
    seconds = int((window.end - window.start).total_seconds())
    if seconds < 1:
        raise ValueError(f"window {window} is shorter than one second")
    rng = np.random.default_rng(
        [config.seed, _microseconds(window.start), _microseconds(window.end)]
    )
    n = config.rows_per_batch

    offsets = np.sort(rng.integers(0, seconds, size=n))
    applied_at = pd.Timestamp(window.start) + pd.to_timedelta(offsets, unit="s")
    first_id = int(window.start.strftime("%Y%m%d%H%M")) * _MAX_ROWS
    columns: dict[str, object] = {
        ID_COLUMN: first_id + np.arange(n, dtype=np.int64),
        EVENT_TIME_COLUMN: applied_at.astype("datetime64[ns, UTC]"),
    }
    features, codes = _applicants(rng, n)
    for name, k in config.shift.items():
        features[name] = _shifted(features[name], k, NUMERIC_FEATURES[name])
    logit = (
        _default_logit(features, codes, rng, reversed_share=config.relationship_shift)
        + config.label_shift
    )
    defaulted = rng.random(n) < 1 / (1 + np.exp(-logit))

    for name, rate in MISSING_RATES.items():
        features[name] = np.where(rng.random(n) < rate, np.nan, features[name])
    features["debt_to_income"][np.isnan(features["income"])] = np.nan
    columns.update(
        {name: features[name].astype(NUMERIC_FEATURES[name]) for name in NUMERIC_FEATURES}
    )
    for name, categories in CATEGORICAL_FEATURES.items():
        values = np.array(categories, dtype=object)[codes[name]]
        unseen = config.new_categories.get(name)
        if unseen:
            rows = rng.random(n) < config.new_category_fraction
            values[rows] = np.array(unseen, dtype=object)[rng.integers(0, len(unseen), rows.sum())]
        columns[name] = values
    columns[TARGET] = np.where(defaulted, "yes", "no").astype(object)
    return _corrupted(pd.DataFrame(columns), config.corruption, rng)


def _microseconds(moment: datetime) -> int:
    """Non-negative microseconds since year 1, as a seed (seeds cannot be negative)."""
    return (moment - datetime(1, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _categorical(uniform: np.ndarray, p: list[float]) -> np.ndarray:
    """Turn uniform draws into category codes with probabilities ``p``."""
    return np.searchsorted(np.cumsum(p)[:-1], uniform, side="right")


def _applicants(
    rng: np.random.Generator, n: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Draw the true feature values and category codes of ``n`` applicants."""
    normal = rng.standard_normal
    affluence = normal(n)
    quality = 0.3 * affluence + np.sqrt(1 - 0.3**2) * normal(n)

    age = np.clip(np.round(21 + rng.gamma(3.2, 6.5, n)), 21, 80)
    uniform = rng.random(n)
    employment = np.where(
        age >= 62,
        _categorical(uniform, _EMPLOYMENT_P_SENIOR),
        _categorical(uniform, _EMPLOYMENT_P_WORKING_AGE),
    )
    region = _categorical(rng.random(n), _REGION_P)
    log_income = (
        10.7
        + 0.35 * affluence
        - 0.0006 * (age - 50) ** 2
        + _EMPLOYMENT_INCOME[employment]
        + _REGION_INCOME[region]
        + 0.3 * normal(n)
    )
    income = np.round(np.exp(log_income), -2)
    working = employment <= 2
    tenure_years = np.minimum(rng.exponential(2 + 0.15 * (age - 21)), age - 18)
    months_employed = np.where(working, np.floor(tenure_years * 12), 0)

    # Gumbel-max: one softmax draw per row over home-ownership scores.
    home_scores = np.column_stack(
        [
            0.5 - 0.03 * (age - 40) - 0.4 * affluence,
            0.3 + 0.02 * (age - 40) + 0.5 * affluence,
            -1.0 + 0.05 * (age - 40) + 0.2 * affluence,
            np.full(n, -2.5),
        ]
    )
    home = np.argmax(home_scores + rng.gumbel(size=(n, 4)), axis=1)
    purpose = _categorical(rng.random(n), _PURPOSE_P)

    log_loan = 9.3 + 0.45 * (log_income - 10.7) + _PURPOSE_LOAN[purpose] + 0.5 * normal(n)
    loan_amount = np.round(np.clip(np.exp(log_loan), 1_000, 100_000), -2)
    term_index = np.clip(np.round(2 + 1.2 * (np.log(loan_amount) - 9.3) + 0.9 * normal(n)), 0, 4)
    loan_term_months = _TERMS[term_index.astype(int)]

    credit_history_years = np.round((age - 18) * rng.beta(4, 2, n), 1)
    num_open_accounts = np.minimum(
        rng.poisson(np.exp(1.2 + 0.25 * affluence + 0.02 * credit_history_years)), 40
    )
    num_delinquencies = rng.poisson(np.exp(-1.6 - 0.9 * quality))
    utilization = np.round(1 / (1 + np.exp(0.6 + 0.8 * quality - 0.5 * normal(n))), 3)
    # The lender prices on its own noisy view of credit quality.
    interest_rate = np.round(
        np.clip(
            11
            - 2.2 * (quality + 0.6 * normal(n))
            + 0.04 * (loan_term_months - 36)
            + _PURPOSE_RATE[purpose]
            + 0.8 * normal(n),
            3.5,
            35,
        ),
        2,
    )
    monthly_rate = interest_rate / 1200
    payment = loan_amount * monthly_rate / (1 - (1 + monthly_rate) ** -loan_term_months)
    existing_debt = income / 12 * (0.8 * rng.beta(2, 6, n) + 0.1 * (1 - np.tanh(quality)) / 2)
    debt_to_income = np.round((existing_debt + payment) / (income / 12), 3)
    savings = np.where(
        rng.random(n) < 0.15,
        0,
        np.round(np.exp(8 + 0.8 * affluence + 0.02 * (age - 40) + normal(n)), -1),
    )
    features = {
        "age": age,
        "income": income,
        "months_employed": months_employed,
        "loan_amount": loan_amount,
        "loan_term_months": loan_term_months,
        "interest_rate": interest_rate,
        "debt_to_income": debt_to_income,
        "credit_history_years": credit_history_years,
        "num_open_accounts": num_open_accounts,
        "num_delinquencies": num_delinquencies,
        "utilization": utilization,
        "savings": savings,
    }
    codes = {
        "home_ownership": home,
        "purpose": purpose,
        "employment_type": employment,
        "region": region,
    }
    return {name: values.astype(float) for name, values in features.items()}, codes


def _shifted(values: np.ndarray, k: float, dtype: str) -> np.ndarray:
    shifted = values + k * np.nanstd(values)
    return np.round(shifted) if dtype == "int64" else shifted


def _default_logit(
    features: dict[str, np.ndarray],
    codes: dict[str, np.ndarray],
    rng: np.random.Generator,
    *,
    reversed_share: float = 0.0,
) -> np.ndarray:
    """Log-odds of default from the recorded features; the noise is independent of them.

    ``reversed_share`` turns that share of the features' effect around the batch's mean
    log-odds, so the default rate stays about the same while the rule changes.
    """
    f = features
    loan_to_income = f["loan_amount"] / np.maximum(f["income"], 1)
    thin_buffer = np.where(f["savings"] < 3 * f["income"] / 12, 1.0, 0.3)
    logit = (
        _INTERCEPT
        + 1.4 * thin_buffer * np.tanh((f["debt_to_income"] - 0.45) / 0.06)
        + 6.0 * (f["utilization"] - 0.3) ** 2
        + 0.8 * np.minimum(f["num_delinquencies"], 2)
        + 0.05 * (f["interest_rate"] - 11)
        - 0.4 * (f["credit_history_years"] > 5)
        + 0.6 * (f["age"] < 25)
        + 0.4 * (f["age"] > 68)
        + 0.9 * ((loan_to_income > 0.4) & (f["months_employed"] < 12))
        + _EMPLOYMENT_RISK[codes["employment_type"]]
        + _PURPOSE_RISK[codes["purpose"]]
        + _HOME_RISK[codes["home_ownership"]]
    )
    if reversed_share:
        centre = np.nanmean(logit)
        logit = centre + (1 - 2 * reversed_share) * (logit - centre)
    # Unrecorded circumstances (illness, divorce) make defaults partly unpredictable.
    return logit + 1.6 * rng.standard_normal(len(logit))


def _corrupted(
    frame: pd.DataFrame, corruption: CorruptionConfig, rng: np.random.Generator
) -> pd.DataFrame:
    n = len(frame)
    for column, value in corruption.out_of_range.items():
        rows = _rows(rng, n, corruption.fraction, frame[column].notna().to_numpy())
        if frame[column].dtype == "int64" and not float(value).is_integer():
            frame[column] = frame[column].astype("float64")
        frame.loc[rows, column] = value
    for column, fraction in corruption.null_fraction.items():
        rows = _rows(rng, n, fraction)
        if frame[column].dtype == "int64":
            frame[column] = frame[column].astype("float64")
        frame.loc[rows, column] = None
    for column in corruption.wrong_type:
        text = frame[column].astype(object)
        present = text.notna().to_numpy()
        text[present] = frame.loc[present, column].astype(str)
        rows = _rows(rng, n, corruption.fraction, present)
        text.iloc[rows] = _BAD_VALUES[rng.integers(0, len(_BAD_VALUES), len(rows))]
        frame[column] = text
    if corruption.duplicate_ids:
        m = round(corruption.duplicate_ids * n)
        chosen = rng.permutation(n)[: 2 * m]
        frame.loc[chosen[:m], ID_COLUMN] = frame[ID_COLUMN].to_numpy()[chosen[m:]]
    if corruption.drop_column is not None:
        frame = frame.drop(columns=corruption.drop_column)
    if corruption.extra_column is not None:
        frame[corruption.extra_column] = np.round(rng.standard_normal(n), 3)
    return frame


def _rows(
    rng: np.random.Generator, n: int, fraction: float, eligible: np.ndarray | None = None
) -> np.ndarray:
    """Pick ``round(fraction * n)`` distinct row positions among the eligible ones, sorted."""
    candidates = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    size = min(round(fraction * n), len(candidates))
    return np.sort(rng.choice(candidates, size=size, replace=False))


def generate_batches(
    config: GeneratorConfig,
    *,
    start: date,
    days: int,
    out_dir: Path,
    format: Literal["csv", "parquet"] = "csv",
) -> list[Path]:
    """Write one file per UTC day from ``start``, named ``applications_<day>.<format>``.

    Raises:
        ValueError: ``days`` is less than 1.

    """
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        day_start = datetime.combine(day, time(), tzinfo=UTC)
        frame = generate_batch(config, start=day_start, end=day_start + timedelta(days=1))
        path = out_dir / f"applications_{day.isoformat()}.{format}"
        if format == "csv":
            frame.to_csv(path, index=False)
        else:
            path.write_bytes(to_parquet_bytes(frame))
        paths.append(path)
    return paths


def credit_risk_spec(source: SourceSpec, *, name: str = "credit_risk") -> DatasetSpec:
    """Build the dataset spec of the generated data, read from ``source``."""
    features = [
        Feature(name=column, kind="numeric", dtype=dtype, nullable=column in NULLABLE_FEATURES)
        for column, dtype in NUMERIC_FEATURES.items()
    ] + [
        Feature(
            name=column, kind="categorical", dtype="string", nullable=False, categories=categories
        )
        for column, categories in CATEGORICAL_FEATURES.items()
    ]
    return DatasetSpec(
        name=name,
        source=source,
        target=TARGET,
        target_values=TARGET_VALUES,
        positive_label=POSITIVE_LABEL,
        id_column=ID_COLUMN,
        event_time_column=EVENT_TIME_COLUMN,
        features=features,
    )
