"""Measurements of the harness itself: model and trainer speed, sweep scaling, how bad input is
refused, and the GPU slice (a device without MLflow or Optuna). Accuracy experiments are sweeps."""
