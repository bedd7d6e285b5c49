"""The types a request's values take: one definition for the record model and the fast path.

Values are typed strictly (a string is not a number, a boolean neither), numbers must be
finite and fit in float32 (requests are encoded as float32), and ``null`` is always allowed:
it is *missing*, as in training.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, StrictBool, StrictInt, StrictStr

# Requests are encoded as float32: a finite float64 beyond this would become infinity.
FLOAT32_MAX = float(np.finfo(np.float32).max)

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Number = Annotated[FiniteFloat, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)] | None
# Categories are compared as canonical text, so a code may come as 3, 3.0 or "3".
Category = StrictStr | StrictInt | FiniteFloat | StrictBool | None
Identifier = StrictStr | StrictInt | None
