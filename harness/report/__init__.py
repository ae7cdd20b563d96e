"""Paper-style reports built from the MLflow record of sweeps and MD runs.

Data flow: ``collect`` (MLflow -> pandas, the record of docs/mlflow-record.md) ->
``summary`` (mean and standard deviation over seeds) -> ``tables``, ``headline``, ``paper``
and ``figures`` (pure: frames in, tables and PNGs out) -> ``render`` (report.md, report.html)
-> ``build`` (the whole report written atomically, then logged back to MLflow). Nothing here
imports the trainer: the report reads only what the sweeps recorded.
"""
