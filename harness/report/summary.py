"""Mean and standard deviation over seeds, and the orders and labels every table shares.

Force errors are in kcal/mol/A (energy errors in kcal/mol), as the sweeps log them. The
standard deviation is the sample one (ddof 1) over the seeds that finished; with one seed there
is none and only the mean is printed.
"""

from __future__ import annotations

import math

import pandas as pd

METHOD_ORDER = ("standard", "asteroid", "asteroid_multi", "no_bat", "no_ft", "score_matching",
                "delta_ml", "sgdml", "ani1ccx", "ani1ccx_finetuned", "inaccurate_only")
MOLECULE_ORDER = ("aspirin", "benzene", "malonaldehyde", "toluene", "ethanol")
STANDARD = "standard"
ASTEROID = "asteroid"
MULTI_MOLECULE = "asteroid_multi"  # ASTEROID pre-trained on several molecules (Table 5)
UNIT = "kcal/mol/Å"


def rank(value: str, order: tuple[str, ...]) -> int:
    return order.index(value) if value in order else len(order)


def ratio_number(cost_ratio: str) -> float:
    """Numeric cost ratios sort by value; ``measured`` and the like after them."""
    try:
        return float(cost_ratio)
    except ValueError:
        return math.inf


def number_text(value: float) -> str:
    return f"{value:g}"


def usable(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials with a test force error."""
    return trials[(trials["status"] == "FINISHED") & trials["force_mae"].notna()]


def selected(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials the sweep chose (their cell's gamma for that seed; every non-gamma trial)."""
    chosen = usable(trials)
    return chosen[chosen["selected"]]


def sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's order: molecules as in its tables, methods standard first, then numbers."""
    keys = {"sweep": None, "molecule": MOLECULE_ORDER, "model": None, "method": METHOD_ORDER,
            "arm": METHOD_ORDER, "inaccurate_level": None, "cost_ratio": None, "budget": None,
            "gamma": None, "step_size_fs": None}

    def sort_key(column: pd.Series) -> pd.Series:
        order = keys[str(column.name)]
        if column.name == "cost_ratio":
            return column.map(ratio_number)
        if order is None:
            return column
        return column.map(lambda value: f"{rank(value, order):03d}{value}")

    present = [key for key in keys if key in frame.columns]
    if not present:
        return frame
    return frame.sort_values(present, key=sort_key, na_position="last", kind="stable")


def seed_summary(frame: pd.DataFrame, keys: list[str], metric: str = "force_mae"
                 ) -> pd.DataFrame:
    """One row per ``keys``: mean, std and number of seeds of ``metric``."""
    grouped = frame.groupby(keys, dropna=False, sort=False)[metric]
    summary = grouped.agg(mean="mean", std="std", n="count").reset_index()
    return summary[summary["n"] > 0]


def mean_std_text(mean: float, std: float, n: int, usual_n: int, digits: int = 3) -> str:
    """``0.523 ± 0.012``; ``(n=1)`` appended when a cell has fewer seeds than its table."""
    if math.isnan(mean):
        return "–"
    text = f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text if n == usual_n else f"{text} (n={n})"
