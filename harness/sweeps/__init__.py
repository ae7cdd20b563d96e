"""Sweeps: a YAML spec expanded into trials, queued in an Optuna study, recorded in MLflow.

Data flows one way: ``spec`` (the validated file) -> ``plan`` (cells and trials, each trial one
training config) -> ``study`` (the queue and ledger of trials) -> ``worker`` (trains one trial
at a time through ``harness.train.experiment.run``) -> ``mlflow_layout`` (parent run per cell,
child run per trial). ``runner`` sets a sweep up and starts the workers.
"""
