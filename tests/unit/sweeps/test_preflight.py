"""``harness sweep run`` refuses bad data, storage and tracking in one line, writing nothing."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from spec_toy import tiny_spec, write_spec

from harness.cli import main
from harness.data.writers import write_md17_npz
from harness.errors import ConfigError, DataError
from harness.sweeps.preflight import check_datasets, check_storage, check_tracking
from harness.sweeps.spec import parse_spec

CARBONS_SWAPPED = [1, 0, 2, 3, 4, 5, 6, 7, 8]


def one_level_spec(accurate: Path, inaccurate: Path | None = None) -> dict:
    """The tiny spec on single-file levels: standard only, or Delta-ML with a cheap file."""
    dataset = {"molecule": "ethanol", "accurate": {"path": str(accurate)}}
    if inaccurate is not None:
        dataset["inaccurate"] = [{"path": str(inaccurate)}]
    content = tiny_spec(methods=["delta_ml" if inaccurate else "standard"])
    content["datasets"] = [dataset]
    return content


def sweep_run(folder: Path, spec: Path, *options: str) -> int:
    return main(["sweep", "run", str(spec), "--state-dir", str(folder / "state"), "--quiet",
                 "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}", *options])


def assert_one_line_and_nothing_written(capsys: pytest.CaptureFixture, folder: Path,
                                        status: int, *expected: str) -> str:
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    message = captured.err.strip()
    assert "\n" not in message and message.startswith("harness: error: ")
    for text in expected:
        assert text in message, message
    assert not (folder / "state").exists()
    assert not (folder / "mlflow.db").exists()
    return message


def test_nan_forces_stop_the_sweep_before_anything_is_written(tmp_path, capsys, make_frames):
    frames = make_frames(n_frames=30, level="ccsd")
    forces = frames.forces.copy()
    forces[3, 2, 1] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, R=frames.positions, z=frames.atomic_numbers, E=frames.energies, F=forces)
    spec = write_spec(tmp_path, one_level_spec(path))
    status = sweep_run(tmp_path, spec)
    assert_one_line_and_nothing_written(capsys, tmp_path, status, str(path), "field 'F'",
                                        "NaN")


def test_atom_count_mismatch_stops_the_sweep(tmp_path, capsys, make_frames):
    frames = make_frames(n_frames=30, level="ccsd")
    path = tmp_path / "short_z.npz"
    np.savez(path, R=frames.positions, z=frames.atomic_numbers[:-1], E=frames.energies,
             F=frames.forces)
    status = sweep_run(tmp_path, write_spec(tmp_path, one_level_spec(path)))
    assert_one_line_and_nothing_written(capsys, tmp_path, status, str(path), "field 'R'")


def test_swapped_carbons_in_the_cheap_file_stop_the_sweep(tmp_path, capsys, make_frames):
    accurate = make_frames(n_frames=30, level="ccsd")
    cheap = make_frames(level="xtb", seed=1, positions=accurate.positions[:, CARBONS_SWAPPED])
    accurate_path = write_md17_npz(accurate, tmp_path / "ccsd.npz")
    cheap_path = write_md17_npz(cheap, tmp_path / "xtb.npz")
    spec = write_spec(tmp_path, one_level_spec(accurate_path, cheap_path))
    status = sweep_run(tmp_path, spec)
    assert_one_line_and_nothing_written(capsys, tmp_path, status, str(cheap_path),
                                        "atom order", "0->1, 1->0")


def test_too_few_frames_for_the_test_set_stop_the_sweep(tmp_path, capsys, make_frames):
    path = write_md17_npz(make_frames(n_frames=30, level="ccsd"), tmp_path / "ccsd.npz")
    content = one_level_spec(path)
    content["train"]["data"]["n_test"] = 100
    status = sweep_run(tmp_path, write_spec(tmp_path, content))
    assert_one_line_and_nothing_written(capsys, tmp_path, status, str(path), "field 'n_test'",
                                        "100 requested but only 30")


def test_unknown_level_names_the_spec_key(tmp_path):
    content = tiny_spec()
    content["datasets"][0]["inaccurate"][0]["level"] = "b3lyp"
    with pytest.raises(ConfigError, match="unknown level 'b3lyp'") as caught:
        check_datasets(parse_spec(content, "x.yaml"), "x.yaml")
    assert caught.value.key_path == "datasets.0.inaccurate.0.level"


def test_an_unlabelled_accurate_level_is_refused():
    content = tiny_spec()
    content["datasets"][0]["accurate"]["level"] = "unlabeled"
    with pytest.raises(ConfigError, match="has no energies and forces"):
        check_datasets(parse_spec(content, "x.yaml"), "x.yaml")


def test_the_tiny_spec_passes():
    check_datasets(parse_spec(tiny_spec(), "x.yaml"), "x.yaml")


def test_unreachable_storage_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    # the password through the environment: on the command line it earns a warning of its own
    monkeypatch.setenv("HARNESS_SWEEP_STORAGE", "postgresql://nobody:secret@127.0.0.1:1/x")
    spec = write_spec(tmp_path, tiny_spec())
    status = sweep_run(tmp_path, spec, "--storage", "")
    message = assert_one_line_and_nothing_written(capsys, tmp_path, status, "key 'storage'",
                                                  "cannot reach", "127.0.0.1:1")
    assert "secret" not in message


def test_unreachable_tracking_server_is_one_line_and_writes_nothing(tmp_path, capsys):
    spec = write_spec(tmp_path, tiny_spec())
    status = main(["sweep", "run", str(spec), "--state-dir", str(tmp_path / "state"),
                   "--quiet", "--tracking-uri", "http://127.0.0.1:1"])
    assert_one_line_and_nothing_written(capsys, tmp_path, status, "key 'tracking_uri'",
                                        "cannot reach the MLflow tracking server")


@pytest.fixture
def silent_server() -> str:
    """A TCP port that accepts connections and closes them: a server, but no database."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"postgresql://nobody@127.0.0.1:{port}/x"
    listener.close()


def test_a_server_that_is_not_a_database_is_one_line(silent_server):
    with pytest.raises(ConfigError, match="cannot open the Optuna storage") as caught:
        check_storage(silent_server, timeout_s=2)
    assert "\n" not in str(caught.value)


def test_sqlite_and_file_uris_are_left_to_be_created(tmp_path):
    check_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert check_tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", parse_spec(tiny_spec(), "x")) \
        == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert not list(tmp_path.iterdir())


def test_a_storage_url_of_no_database_kind_is_refused():
    with pytest.raises(ConfigError, match="cannot open the Optuna storage") as caught:
        check_storage("mongodb://me:secret@127.0.0.1/x")
    assert "\n" not in str(caught.value) and "secret" not in str(caught.value)


def test_an_empty_dataset_is_refused(tmp_path, make_frames):
    path = tmp_path / "empty.npz"
    np.savez(path, R=np.zeros((0, 9, 3)), z=make_frames().atomic_numbers, E=np.zeros(0),
             F=np.zeros((0, 9, 3)))
    spec = parse_spec(one_level_spec(path), "x.yaml")
    with pytest.raises(DataError, match="no frames"):
        check_datasets(spec, "x.yaml")


def _plan_with_ani(weights_path: str | None):
    from harness.sweeps.plan import make_plan

    spec = tiny_spec(methods=["standard", "ani1ccx_finetuned"],
                     train={"baselines": {"ani": {"weights_path": weights_path}}})
    return make_plan(parse_spec(spec, "tiny.yaml"), "tiny.yaml")


def test_ani_cells_without_weights_are_skipped_with_one_line(tmp_path, monkeypatch):
    from harness.sweeps.preflight import without_unavailable_baselines

    monkeypatch.delenv("HARNESS_ANI1CCX_WEIGHTS", raising=False)
    plan = _plan_with_ani(str(tmp_path / "nowhere"))
    kept, lines = without_unavailable_baselines(plan, "tiny.yaml")
    assert {cell.method for cell in kept.cells} == {"standard"}
    assert len(kept.trials) == len(plan.trials) - len(
        [trial for trial in plan.trials if trial.cell.method == "ani1ccx_finetuned"])
    (line,) = lines
    assert line.startswith("skipping the 1 ANI-1ccx cell(s)")
    assert "tiny.yaml: train.baselines.ani.weights_path: no ANI-1ccx weights at" in line


def test_ani_weights_come_from_the_environment_when_the_spec_names_none(tmp_path,
                                                                        monkeypatch):
    from harness.sweeps.preflight import without_unavailable_baselines

    (tmp_path / "ani1ccx_state_dict.pt").write_bytes(b"")
    monkeypatch.setenv("HARNESS_ANI1CCX_WEIGHTS", str(tmp_path))
    plan = _plan_with_ani(None)
    assert without_unavailable_baselines(plan, "tiny.yaml") == (plan, [])
