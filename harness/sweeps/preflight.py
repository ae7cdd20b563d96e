"""Checks of everything a sweep needs before ``harness sweep run`` writes anything.

A sweep writes its Optuna study, its queued trials and its MLflow runs before a worker reads
the first frame. Without these checks a broken dataset surfaces only as failed trials (and
exit status 0) after all of that was written, an unreachable PostgreSQL storage as a long
SQLAlchemy traceback, and an unreachable MLflow server after minutes of MLflow's retries with
an ``optuna.db`` of queued trials left behind. Each check raises one ``HarnessError`` (the CLI
prints one line and exits 2) and writes nothing.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from harness.data.atom_order import check_atom_order
from harness.data.frames import FrameSet, MultiFidelityDataset
from harness.errors import ConfigError
from harness.network import CONNECT_TIMEOUT_S, check_server
from harness.redaction import redact
from harness.sweeps.plan import Plan
from harness.sweeps.spec import LevelSpec, SweepSpec
from harness.train.config import ANI_METHODS, LevelSource
from harness.train.tracking import resolve_tracking_uri

STORAGE_KEY = "storage"
TRACKING_KEY = "tracking_uri"


def dataset_levels(spec: SweepSpec) -> list[tuple[int, str, LevelSpec]]:
    """(dataset index, role, level) of every level the spec names; role as in key paths."""
    named = []
    for index, dataset in enumerate(spec.datasets):
        named.append((index, "accurate", dataset.accurate))
        named += [(index, f"inaccurate.{n}", level) for n, level in enumerate(dataset.inaccurate)]
        if dataset.unlabeled is not None:
            named.append((index, "unlabeled", dataset.unlabeled))
    return named


class LoadedLevels:
    """Each dataset file read once, then its levels handed out as training asks for them."""

    def __init__(self) -> None:
        self.datasets: dict[str, MultiFidelityDataset] = {}

    def __call__(self, level_source: LevelSource, config_source: str, key: str) -> FrameSet:
        from harness.data.readers import load_any
        from harness.train.experiment import select_level

        if level_source.path not in self.datasets:
            self.datasets[level_source.path] = load_any(level_source.path)
        return select_level(self.datasets[level_source.path], level_source, config_source, key)


def check_datasets(spec: SweepSpec, source: str, levels: LoadedLevels | None = None) -> None:
    """Read every dataset the spec names, as training will: bad values, missing fields, unknown
    units or levels, unlabelled accurate or inaccurate levels and reordered atoms all fail here
    (a missing path too, though ``runner.check_data_paths`` names the spec's key for it first).
    """
    levels = levels or LoadedLevels()
    accurate_of: dict[int, FrameSet] = {}
    for index, role, level in dataset_levels(spec):
        key = f"datasets.{index}.{role}"
        frames = levels(LevelSource(path=level.path, level=level.level), source, key)
        if role != "unlabeled" and not frames.is_labelled:
            raise ConfigError(source, f"{key}.level", f"level '{frames.level}' of "
                              f"'{level.path}' has no energies and forces")
        if role == "accurate":
            accurate_of[index] = frames
        else:
            check_atom_order(accurate_of[index], frames)


def check_splits(plan: Plan, source: str, levels: LoadedLevels | None = None) -> None:
    """Split the data of every distinct trial as its training will (seed and gamma aside, which
    do not change the sizes): too few frames for a budget, validation or test fails here."""
    from harness.train.config import TrainConfig
    from harness.train.experiment import prepare_splits

    levels = levels or LoadedLevels()
    seen: set[str] = set()
    for trial in plan.trials:
        data = {"method": trial.config["method"], "data": trial.config["data"]}
        text = json.dumps(data, sort_keys=True)
        if text not in seen:
            seen.add(text)
            prepare_splits(TrainConfig.model_validate(trial.config), f"{source}:{trial.key}",
                           levels)


def check_storage(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """An Optuna storage on a database server answers, and lets us in, within ``timeout_s``
    (a TCP connect first where the URL names a host, then one SQLAlchemy connection).

    SQLite files are made later, where they belong; they are not checked here.
    """
    if url.startswith("sqlite:"):
        return
    shown = redact(url)
    check_server(url, shown, STORAGE_KEY, "Optuna storage server", timeout_s)
    _try_connect(url, shown, timeout_s)


def _try_connect(url: str, shown: str, timeout_s: float) -> None:
    """One real connection with SQLAlchemy: wrong credentials or a missing database fail here."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    connect_args = {"connect_timeout": max(1, int(timeout_s))} \
        if url.startswith("postgresql") else {}
    try:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        with engine.connect():
            pass
        engine.dispose()
    # drivers raise their own kinds of errors (and ImportError when one is not installed)
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        password = urlparse(url).password
        if password:  # some drivers quote the URL they could not use
            first_line = first_line.replace(password, "***")
        raise ConfigError(shown, STORAGE_KEY, f"cannot open the Optuna storage "
                          f"({type(error).__name__}: {first_line})") from None


def check_tracking(tracking_uri: str | None, spec: SweepSpec,
                   timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """The MLflow URI the sweep will use (``harness.train.tracking``'s resolution), checked to
    answer within ``timeout_s`` when it names a server; returns it."""
    uri = resolve_tracking_uri(tracking_uri or spec.tracking.uri)
    check_server(uri, redact(uri), TRACKING_KEY, "MLflow tracking server",
                 timeout_s)
    return uri


def without_unavailable_baselines(plan: Plan, source: str) -> tuple[Plan, list[str]]:
    """The plan without the ANI-1ccx cells when their weights cannot be found (the sweep goes
    on without them), and one line saying so, instead of one failed trial per cell and seed."""
    from harness.baselines.ani import resolve_weights

    ani = [trial for trial in plan.trials if trial.cell.method in ANI_METHODS]
    if not ani:
        return plan, []
    try:
        resolve_weights(ani[0].config.get("baselines", {}).get("ani", {}).get("weights_path"))
    except ConfigError as error:
        skipped = {trial.cell.key for trial in ani}
        kept = Plan(plan.spec, tuple(cell for cell in plan.cells if cell.key not in skipped),
                    tuple(trial for trial in plan.trials if trial.cell.key not in skipped))
        return kept, [f"skipping the {len(skipped)} ANI-1ccx cell(s), {len(ani)} trial(s), of "
                      f"{source}: train.{error.key_path}: {error.problem}"]
    return plan, []


def preflight(plan: Plan, source: str, storage_url: str, tracking_uri: str | None) -> None:
    """Every check, cheapest first; run before the study is opened or MLflow is touched."""
    check_storage(storage_url)
    check_tracking(tracking_uri, plan.spec)
    levels = LoadedLevels()
    check_datasets(plan.spec, source, levels)
    check_splits(plan, source, levels)
