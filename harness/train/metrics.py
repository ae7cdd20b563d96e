"""Test metrics in the paper's measure: errors averaged over atoms and Cartesian components.

Force MAE and RMSE in kcal/mol/A pool every atom and component of every frame; energy MAE in
kcal/mol averages over frames.
"""

from __future__ import annotations

import numpy as np


def force_energy_metrics(predicted_energies: np.ndarray, predicted_forces: np.ndarray,
                         true_energies: np.ndarray, true_forces: np.ndarray) -> dict[str, float]:
    force_errors = (np.asarray(predicted_forces) - np.asarray(true_forces)).reshape(-1)
    energy_errors = np.asarray(predicted_energies) - np.asarray(true_energies)
    return {
        "force_mae": float(np.mean(np.abs(force_errors))),
        "force_rmse": float(np.sqrt(np.mean(force_errors**2))),
        "energy_mae": float(np.mean(np.abs(energy_errors))),
    }
