"""result.py: the result objects of critnet's functions: fields as attributes, and to_dict() for JSON."""
import math

import numpy as np


def plain(value):
    """value with ndarrays as lists and NaN/Inf as None, as `critnet ... --json` writes them."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Result:
    """Fields as attributes (r.alpha), a readable repr, and to_dict(): the fields as the CLI's JSON has them."""

    def __init__(self, fields):
        self.__dict__.update(fields)

    def to_dict(self):
        """The fields as plain Python values (lists for arrays, None for NaN), ready for json.dump."""
        return plain(dict(self.__dict__))

    def __repr__(self):
        def short(v):
            if isinstance(v, np.ndarray):
                return f"array{v.shape}"
            if isinstance(v, float):
                return f"{v:.6g}"
            if isinstance(v, (list, dict)) and len(repr(v)) > 60:
                return f"<{type(v).__name__} of {len(v)}>"
            return repr(v)
        body = ", ".join(f"{k}={short(v)}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({body})"
