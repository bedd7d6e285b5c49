"""The dataset spec, the one contract behind the GX suite, the features and the request model.

:mod:`driftloop.spec.model` holds the spec itself; :mod:`driftloop.spec.learn` learns one
from a sample (imported on its own: it needs pandas).
"""

from __future__ import annotations

from driftloop.spec.model import DatasetSpec, Feature, SourceSpec, load_spec, save_spec

__all__ = ["DatasetSpec", "Feature", "SourceSpec", "load_spec", "save_spec"]
