"""measure.py: the result of Net.measure, with the fields of `critnet measure --json`."""
import math

from .result import Result, plain

DR_NOTE = ("not a distance from criticality: on random networks Delta does not peak on the critical line "
           "(docs/phase.md)")


class MeasureResult(Result):
    """The criticality measures of a network on a set of inputs (docs/criticality-measures.md).

    sigma, sigma_stderr        branching parameter, geometric mean over blocks and inputs (critical at 1)
    sigma_per_block(_stderr)   sigma_l per block (ndarray)
    abs_ln_sigma               |ln sigma|; mean_abs_ln_sigma_per_block: the mean of |ln sigma_l|, in which
                               expanding and contracting blocks do not cancel
    lambda_max(_stderr)        lambda_0, the largest Lyapunov exponent per block (critical at 0)
    spectrum(_stderr)          the k largest exponents; local_exponents: (blocks, k)
    sigma_activity, activity, activity_slope   the activity branching ratio and its parts
    dynamic_range              None unless measured with dynamic_range=True: a dict as in the CLI's JSON
                               (delta_db, s10, s90, saturated, truncated_low/high, class, complete, curve,
                               note; class: ok, truncated-low, truncated-high, truncated-both or no-rise)
    mean_field                 None (measure() has no theory; critnet.theory gives it)
    blocks                     the blocks measured: index, name, first_layer, last_layer, units_in, units
    settings                   the options of the call
    """

    def __init__(self, flat, settings):
        fields = {k: v for k, v in flat.items()
                  if k not in ("has_dynamic_range", "dr_defined", "delta_db", "s10", "s90", "saturated",
                               "truncated_low", "dr_class", "dr_complete", "dr_s", "dr_F")}
        fields["abs_ln_sigma"] = abs(math.log(flat["sigma"])) if flat["sigma"] > 0 else math.nan
        fields["dynamic_range"] = _dynamic_range(flat) if flat["has_dynamic_range"] else None
        fields["mean_field"] = None
        fields["settings"] = settings
        super().__init__(fields)

    def to_dict(self):
        """The measures in the layout of `critnet measure --json` (its settings hold this call's options)."""
        d = {
            "sigma": {"value": self.sigma, "stderr": self.sigma_stderr, "per_layer": self.sigma_per_block,
                      "per_layer_stderr": self.sigma_per_block_stderr, "abs_ln": self.abs_ln_sigma,
                      "mean_abs_ln_per_block": self.mean_abs_ln_sigma_per_block},
            "lambda_max": {"value": self.lambda_max, "stderr": self.lambda_max_stderr},
            "lyapunov_spectrum": self.spectrum,
            "lyapunov_spectrum_stderr": self.spectrum_stderr,
            "local_exponents": self.local_exponents,
            "degenerate_directions": self.degenerate_directions,
            "sigma_activity": self.sigma_activity,
            "activity": self.activity,
            "activity_slope": self.activity_slope,
            "dynamic_range": self.dynamic_range,
            "mean_field": self.mean_field,
            "blocks": self.blocks,
            "settings": dict(self.settings, samples=self.inputs),
        }
        return plain(d)


def _dynamic_range(flat):
    ok = flat["dr_defined"]
    return {"delta_db": flat["delta_db"], "saturated": flat["saturated"], "truncated_low": flat["truncated_low"],
            # as the CLI: a curve that has not levelled off by s_max is cut off at the high end
            "truncated_high": bool(ok and not flat["saturated"]), "class": flat["dr_class"],
            "complete": flat["dr_complete"], "s10": flat["s10"], "s90": flat["s90"],
            "curve": [[s, f] for s, f in zip(flat["dr_s"].tolist(), flat["dr_F"].tolist())],
            "note": DR_NOTE}
