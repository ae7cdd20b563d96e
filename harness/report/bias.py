"""What the bias-aware trials did to their inaccurate frames: bias B and weights exp(-B/gamma).

Each table (one per trial, from its ``bias/bias_weights.npz`` artifact) holds frame_id, bias
(kcal/mol/A), bias_used (what the weights were computed from, by ``asteroid.gamma_scale``: B,
B over its median, or B above its smallest value) and weight_gamma<g>. Weights near 0 for
most frames mean stage 2 learned from few frames; weights near 1 mean bias-aware training was
plain pre-training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.mlflow_record import weight_column
from harness.report.document import Table
from harness.report.summary import sort_rows
from harness.report.tables import describe_on_scale

LOW_WEIGHT = 0.05
GROUP = ["sweep", "molecule", "model", "method", "inaccurate_level", "budget", "gamma",
         "gamma_scale"]


def bias_statistics(trials: pd.DataFrame, bias_tables: dict[str, dict[str, np.ndarray]]
                    ) -> pd.DataFrame:
    """One row per trial with a bias table: median B, median B used, and the mean and low
    fraction of the weights at the trial's own gamma."""
    rows = []
    for trial in trials[trials["run_id"].isin(list(bias_tables))].itertuples():
        table = bias_tables[trial.run_id]
        weights = table.get(weight_column(trial.gamma))
        rows.append({**{key: getattr(trial, key) for key in GROUP},
                     "weight_resolution": getattr(trial, "weight_resolution", ""),
                     "seed": trial.seed, "selected": trial.selected, "run_id": trial.run_id,
                     "n_frames": len(table["bias"]),
                     "bias_median": float(np.median(table["bias"])),
                     "bias_used_median": float(np.median(table.get("bias_used", table["bias"]))),
                     "weight_mean": np.nan if weights is None else float(np.mean(weights)),
                     "weight_low_fraction": np.nan if weights is None
                     else float(np.mean(weights < LOW_WEIGHT)),
                     "ess_fraction": getattr(trial, "ess_fraction", np.nan),
                     "bias_spearman": getattr(trial, "bias_spearman", np.nan),
                     "bias_worst_found": getattr(trial, "bias_worst_found", np.nan)})
    return pd.DataFrame(rows, columns=[*GROUP, "weight_resolution", "seed", "selected",
                                       "run_id", "n_frames", "bias_median",
                                       "bias_used_median", "weight_mean",
                                       "weight_low_fraction", "ess_fraction", "bias_spearman",
                                       "bias_worst_found"])


def _mean_text(values: pd.Series, form: str = "{:.2f}") -> str:
    known = values.dropna()
    return form.format(known.mean()) if len(known) else "-"


def bias_tables_summary(statistics: pd.DataFrame) -> list[Table]:
    """Means over seeds per sweep, molecule, model, method, level, budget and gamma."""
    if statistics.empty:
        return []
    rows = {}
    for key, group in sort_rows(statistics).groupby(GROUP, sort=False):
        named = dict(zip(GROUP, key, strict=True))
        label = ", ".join(part for name, value in named.items() if name != "gamma_scale"
                          and (part := describe_on_scale(name, value, named["gamma_scale"])))
        rows[label] = {"trials": str(len(group)),
                       "frames": str(int(group["n_frames"].mean())),
                       "median B (kcal/mol/Å)": f"{group['bias_median'].mean():.3f}",
                       "median B used": f"{group['bias_used_median'].mean():.3f}",
                       "mean weight": f"{group['weight_mean'].mean():.3f}",
                       f"weights < {LOW_WEIGHT}": f"{group['weight_low_fraction'].mean():.2f}",
                       "effective sample": _mean_text(group["ess_fraction"], "{:.0%}"),
                       "Spearman B vs true bias": _mean_text(group["bias_spearman"]),
                       "worst 10% found": _mean_text(group["bias_worst_found"])}
    cells = pd.DataFrame.from_dict(rows, orient="index")
    note = ("Per inaccurate frame: B = |F(x; theta_0) - f| (the paper's stage-one estimate) or "
            "the |f_accurate - f_cheap| a correction model predicts (asteroid.bias_estimator "
            "correction_model), reduced over atoms and components (by default their mean); "
            "weights exp(-B_used/gamma). Effective sample: "
            "(sum w)^2 / (n sum w^2), 100% for uniform weights. Where cheap frames also carry "
            "accurate labels: the rank correlation of B with their true bias |f_accurate - "
            "f_cheap|, and the share of the 10% most wrong frames that B ranks among its top "
            "10% (10% by chance); - where no frame has both. Means over the trials (seeds) of "
            "each row.")
    return [Table.plain("Bias and weights of the bias-aware trials", cells, note)]
