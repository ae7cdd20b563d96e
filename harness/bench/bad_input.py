"""``harness bench bad-input``: every kind of bad input we know of, tried on the real CLI.

Each case writes its inputs into a fresh temporary folder, runs ``python -m harness.cli`` there
as a user would (a sweep with its study and MLflow store inside the folder), and records the
exit status, how many lines it printed on stderr, the message, the seconds it took and which
files it left beside the inputs. The goal for every refused input: a one-line error, exit 2
and nothing left behind; a declared unit the harness knows is converted instead (exit 0).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from harness.data.frames import FrameSet
from harness.data.units import DeclaredUnits
from harness.data.writers import write_extxyz, write_md17_npz

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_DATASET = PROJECT_ROOT / "data" / "ethanol"
CASE_TIMEOUT_S = 300
MESSAGE_CHARACTERS = 320
CARBONS_SWAPPED = [1, 0, 2, 3, 4, 5, 6, 7, 8]
REFUSED, CONVERTED = "refused", "converted"


@dataclass(frozen=True)
class Case:
    """One bad input: how to write it into a folder and the harness arguments that read it."""

    name: str
    prepare: Callable[[Path], list[str]]
    expected: str = REFUSED


@dataclass(frozen=True)
class Outcome:
    case: Case
    command: str
    status: int | None  # None: still running at the timeout
    stderr_lines: int
    message: str
    left_behind: list[str]
    seconds: float

    @property
    def as_intended(self) -> bool:
        """Refused: exit 2, one line, nothing written. Converted: exit 0, nothing written."""
        if self.case.expected == CONVERTED:
            return self.status == 0 and not self.left_behind
        return self.status == 2 and self.stderr_lines == 1 and not self.left_behind


@lru_cache(maxsize=1)
def ethanol_levels() -> tuple[FrameSet, FrameSet]:
    """40 CCSD frames of the embedded ethanol data and the xTB labels of the same geometries."""
    from harness.data.pairing import pair_frames
    from harness.data.readers import load_any

    dataset = load_any(EMBEDDED_DATASET)
    accurate = dataset["ccsd"].subset(np.arange(40))
    cheap = dataset["xtb"]
    _, cheap_index = pair_frames(accurate, cheap)
    return accurate, cheap.subset(cheap_index)


def sweep_spec(accurate: dict[str, Any], inaccurate: dict[str, Any] | None = None,
               **changes: Any) -> dict[str, Any]:
    """A sweep of one tiny EGNN trial (two for Delta-ML) on the given levels."""
    dataset: dict[str, Any] = {"molecule": "ethanol", "accurate": accurate}
    if inaccurate is not None:
        dataset["inaccurate"] = [inaccurate]
    schedule = {"max_epochs": 1, "batch_size": 4, "early_stopping_patience": None}
    spec = {"name": "bad-input", "datasets": [dataset],
            "models": [{"name": "egnn", "hyperparameters": {"n_features": 4, "n_layers": 1}}],
            "methods": ["delta_ml" if inaccurate else "standard"], "budgets": [6],
            "cost_ratios": [20], "seeds": [0],
            "train": {"cpu_threads": 1, "device": "cpu", "data": {"n_validation": 4,
                                                                   "n_test": 8},
                      "schedules": {"accurate": schedule, "fine_tune": schedule}}}
    spec.update(changes)
    return spec


def sweep_arguments(folder: Path, spec: dict[str, Any] | str, *options: str) -> list[str]:
    """``sweep run`` of ``spec`` (a mapping, or the text of the file) with everything it
    writes inside ``folder``."""
    path = folder / "spec.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False))
    tracking = [] if "--tracking-uri" in options else [
        "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    return ["sweep", "run", str(path), "--workers", "1", "--quiet", "--state-dir",
            str(folder / "state"), *tracking, *options]


def on_npz(arrays: Callable[[FrameSet], dict[str, np.ndarray]]) -> Callable[[Path], list[str]]:
    """A case whose accurate level is an npz of the CCSD frames as ``arrays`` writes them."""
    def prepare(folder: Path) -> list[str]:
        accurate, _ = ethanol_levels()
        path = folder / "ccsd.npz"
        np.savez(path, **arrays(accurate))
        return sweep_arguments(folder, sweep_spec({"path": str(path)}))
    return prepare


def md17(frames: FrameSet, **changes: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"R": frames.positions, "z": frames.atomic_numbers, "E": frames.energies,
              "F": frames.forces}
    arrays.update(changes)
    return {key: value for key, value in arrays.items() if value is not None}


def with_nan_forces(frames: FrameSet) -> dict[str, np.ndarray]:
    forces = frames.forces.copy()
    forces[5, 2, 0] = np.nan
    return md17(frames, F=forces)


def energy_without_forces(folder: Path) -> list[str]:
    import ase.io

    accurate, _ = ethanol_levels()
    path = folder / "ccsd.extxyz"
    images = ase.io.read(write_extxyz(accurate, path), index=":")
    del images[3].calc.results["forces"]
    ase.io.write(path, images, format="extxyz")
    return sweep_arguments(folder, sweep_spec({"path": str(path)}))


def dataset_folder(folder: Path, units: dict[str, str] | None) -> Path:
    """A harness dataset folder of the CCSD frames, written in ``units``."""
    accurate, _ = ethanol_levels()
    dataset = folder / "dataset"
    energy, length, force = DeclaredUnits(**(units or {})).factors("bench")
    (dataset / "labels" / "ccsd").mkdir(parents=True)
    description = {"molecule": "ethanol", "levels": {"ccsd": "CCSD/cc-pVDZ"},
                   "sampling": {"temperature_K": 500.0, "cpu_seconds_per_frame": 0.05}}
    if units is not None:
        description["units"] = units
    (dataset / "dataset.json").write_text(json.dumps(description))
    np.savez(dataset / "trajectory.npz", atomic_numbers=accurate.atomic_numbers,
             positions=accurate.positions / length)
    np.savez(dataset / "labels" / "ccsd" / "chunk_0000.npz", frame_index=np.arange(len(accurate)),
             energies=accurate.energies / energy, forces=accurate.forces / force,
             cpu_seconds=np.full(len(accurate), 24.0))
    return dataset


def declared_hartree_bohr(folder: Path) -> list[str]:
    return ["data", "inspect", str(dataset_folder(folder, {"energy": "hartree",
                                                           "length": "bohr"}))]


def npz_in_hartree_bohr(folder: Path) -> list[str]:
    accurate, _ = ethanol_levels()
    path = write_md17_npz(accurate, folder / "ccsd.npz", DeclaredUnits("hartree", "bohr"))
    return ["data", "inspect", str(path)]


def unknown_unit_in_dataset_json(folder: Path) -> list[str]:
    dataset = dataset_folder(folder, None)
    description = json.loads((dataset / "dataset.json").read_text())
    description["units"] = {"energy": "rydberg", "length": "bohr"}
    (dataset / "dataset.json").write_text(json.dumps(description))
    return sweep_arguments(folder, sweep_spec({"path": str(dataset), "level": "ccsd"}))


def two_levels(folder: Path, order: list[int] | None = None,
               cheap_numbers: list[int] | None = None) -> list[str]:
    """Delta-ML on a CCSD file and an xTB file whose atoms are put in ``order``."""
    accurate, cheap = ethanol_levels()
    if order is not None:
        cheap = FrameSet(molecule=cheap.molecule, level=cheap.level,
                         atomic_numbers=cheap_numbers or cheap.atomic_numbers[order],
                         positions=cheap.positions[:, order], energies=cheap.energies,
                         forces=cheap.forces[:, order], source=cheap.source)
    accurate_path = write_md17_npz(accurate, folder / "ccsd.npz")
    cheap_path = write_md17_npz(cheap, folder / "xtb.npz")
    return sweep_arguments(folder, sweep_spec({"path": str(accurate_path)},
                                              {"path": str(cheap_path)}))


def carbons_swapped(folder: Path) -> list[str]:
    accurate, _ = ethanol_levels()
    return two_levels(folder, CARBONS_SWAPPED, accurate.atomic_numbers.tolist())


def carbon_and_oxygen_swapped(folder: Path) -> list[str]:
    return two_levels(folder, [2, 1, 0, 3, 4, 5, 6, 7, 8])


def on_embedded(folder: Path, *options: str, **changes: Any) -> list[str]:
    """A sweep of the embedded ethanol dataset (which is fine) with ``changes`` to the spec."""
    spec = sweep_spec({"path": str(EMBEDDED_DATASET), "level": "ccsd"}, **changes)
    return sweep_arguments(folder, spec, *options)


def with_level(level: str) -> Callable[[Path], list[str]]:
    return lambda folder: on_embedded(
        folder, datasets=[{"molecule": "ethanol",
                           "accurate": {"path": str(EMBEDDED_DATASET), "level": level}}])


def not_an_archive(folder: Path) -> list[str]:
    path = folder / "ccsd.npz"
    path.write_bytes(b"these are not the frames you are looking for")
    return sweep_arguments(folder, sweep_spec({"path": str(path)}))


def train_on_nan_forces(folder: Path) -> list[str]:
    """``harness train`` (not a sweep) of a config whose accurate file has a NaN force."""
    accurate, _ = ethanol_levels()
    path = folder / "ccsd.npz"
    np.savez(path, **with_nan_forces(accurate))
    config = {"name": "bad-input", "method": "standard", "device": "cpu", "progress": False,
              "output_dir": str(folder / "run"),
              "data": {"accurate": {"path": str(path)}, "n_accurate_train": 6,
                       "n_validation": 4, "n_test": 8},
              "model": {"name": "egnn", "hyperparameters": {"n_features": 4, "n_layers": 1}}}
    (folder / "train.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return ["train", str(folder / "train.yaml")]


def another_molecule(folder: Path) -> list[str]:
    """Delta-ML on ethanol and a cheap file whose last hydrogen is a fluorine."""
    accurate, cheap = ethanol_levels()
    numbers = cheap.atomic_numbers.copy()
    numbers[-1] = 9
    return two_levels(folder, list(range(len(numbers))), numbers.tolist())


def malformed_dataset_json(folder: Path) -> list[str]:
    dataset = dataset_folder(folder, None)
    (dataset / "dataset.json").write_text('{"molecule": "ethanol", "levels": {')
    return sweep_arguments(folder, sweep_spec({"path": str(dataset), "level": "ccsd"}))


def silent_storage_server(folder: Path) -> list[str]:
    """A TCP port that accepts connections and closes them at once: a server, not a database.

    The listener lives in this process (a daemon thread) while the case runs.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener:
            while True:
                connection, _ = listener.accept()
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    return on_embedded(folder, "--storage", f"postgresql://nobody@127.0.0.1:{port}/x")


def malformed_yaml(folder: Path) -> list[str]:
    return sweep_arguments(folder, "name: bad-input\ndatasets: [{molecule: ethanol\n")


CASES: tuple[Case, ...] = (
    Case("npz without forces (key F missing)", on_npz(lambda f: md17(f, F=None))),
    Case("NaN in forces", on_npz(with_nan_forces)),
    Case("R and z disagree on the atom count",
         on_npz(lambda f: md17(f, z=f.atomic_numbers[:-1]))),
    Case("energies of the wrong length", on_npz(lambda f: md17(f, E=f.energies[:-3]))),
    Case("extxyz frame with an energy but no forces", energy_without_forces),
    Case("empty dataset (0 frames)",
         on_npz(lambda f: md17(f, R=f.positions[:0], E=f.energies[:0], F=f.forces[:0]))),
    Case("file that is not an npz archive", not_an_archive),
    Case("unknown unit in an npz (e_unit: furlong)",
         on_npz(lambda f: md17(f, e_unit=np.array("furlong")))),
    Case("unknown unit key in an npz (units)",
         on_npz(lambda f: md17(f, units=np.array("hartree")))),
    Case("unknown unit in dataset.json (rydberg)", unknown_unit_in_dataset_json),
    Case("dataset.json declaring hartree / bohr", declared_hartree_bohr, CONVERTED),
    Case("npz declaring hartree / bohr (e_unit, r_unit)", npz_in_hartree_bohr, CONVERTED),
    Case("two carbons swapped in the cheap file", carbons_swapped),
    Case("carbon and oxygen swapped in the cheap file", carbon_and_oxygen_swapped),
    Case("cheap file of another molecule (an H made F)", another_molecule),
    Case("malformed dataset.json", malformed_dataset_json),
    Case("more test frames than the dataset holds", lambda folder: on_embedded(
        folder, train={"data": {"n_validation": 4, "n_test": 5000}})),
    Case("harness train on a file with NaN forces", train_on_nan_forces),
    Case("spec file that does not exist",
         lambda folder: sweep_arguments(folder, "name: x\n")[:2] + [str(folder / "no.yaml")]),
    Case("malformed YAML spec", malformed_yaml),
    Case("unknown key in the spec", lambda folder: on_embedded(folder, batch_size=4)),
    Case("unknown key in the training block",
         lambda folder: on_embedded(folder, train={"no_such_setting": 1})),
    Case("missing dataset path", lambda folder: on_embedded(folder, datasets=[
        {"molecule": "ethanol", "accurate": {"path": str(folder / "nowhere")}}])),
    Case("unknown level", with_level("ccsd(t)")),
    Case("unlabelled level as the accurate one", with_level("unlabeled")),
    Case("unknown method", lambda folder: on_embedded(folder, methods=["magic"])),
    Case("negative budget", lambda folder: on_embedded(folder, budgets=[-5])),
    Case("budget below the inaccurate share", lambda folder: on_embedded(
        folder, methods=["asteroid"], budgets=[1], datasets=[
            {"molecule": "ethanol",
             "accurate": {"path": str(EMBEDDED_DATASET), "level": "ccsd"},
             "inaccurate": [{"path": str(EMBEDDED_DATASET), "level": "xtb"}]}])),
    Case("unknown profile", lambda folder: on_embedded(folder, "--profile", "huge")),
    Case("unreachable Optuna storage",
         lambda folder: on_embedded(folder, "--storage", "postgresql://nobody@127.0.0.1:1/x")),
    Case("Optuna storage port open, no database behind it", silent_storage_server),
    Case("unreachable MLflow tracking URI",
         lambda folder: on_embedded(folder, "--tracking-uri", "http://127.0.0.1:1")),
)


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def summarise_left(paths: set[Path], folder: Path) -> list[str]:
    """Files left behind, grouped by their top-level entry: 'state/ (3 files)', 'mlflow.db'."""
    groups: dict[str, int] = {}
    for path in paths:
        parts = path.relative_to(folder).parts
        name = parts[0] + ("/" if len(parts) > 1 else "")
        groups[name] = groups.get(name, 0) + 1
    return [name if name[-1] != "/" else f"{name} ({count} files)"
            for name, count in sorted(groups.items())]


def run_case(case: Case, timeout_s: float = CASE_TIMEOUT_S,
             harness_root: Path = PROJECT_ROOT) -> Outcome:
    """Prepare ``case`` in a fresh folder, run the CLI of the checkout at ``harness_root``
    there (another one to compare with an older version) and see what it left."""
    with tempfile.TemporaryDirectory(prefix="bad-input-") as name:
        folder = Path(name)
        arguments = case.prepare(folder)
        inputs = files_under(folder)
        environment = {**os.environ, "PYTHONPATH": str(harness_root),
                       "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'default-mlflow.db'}"}
        started = time.perf_counter()
        try:
            completed = subprocess.run([sys.executable, "-m", "harness.cli", *arguments],
                                       cwd=folder, env=environment, capture_output=True,
                                       text=True, timeout=timeout_s)
            status, stdout, stderr = completed.returncode, completed.stdout, completed.stderr
        except subprocess.TimeoutExpired as expired:
            status, stdout, stderr = None, "", _text(expired.stderr)
        seconds = time.perf_counter() - started
        lines = [line for line in stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else ""
        if status == 0 and case.expected == CONVERTED:
            message = _units_read(stdout)
        left = summarise_left(files_under(folder) - inputs, folder)
        return Outcome(case, _command(arguments, folder), status, len(lines),
                       _shown(message, folder, harness_root), left, seconds)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _units_read(stdout: str) -> str:
    """What ``data inspect`` says it converted from, for the table."""
    try:
        units_read = json.loads(stdout).get("units_read", {})
    except json.JSONDecodeError:
        return "(no JSON summary)"
    return "stdout units_read: " + "; ".join(
        f"{level}: {units['energy']}, {units['length']} -> kcal/mol, Angstrom"
        for level, units in units_read.items() if units)


def _command(arguments: list[str], folder: Path) -> str:
    """The command without the options every sweep case shares (see the file's header)."""
    shown = [_shown(argument, folder) for argument in arguments]
    for option in ("--workers", "--state-dir", "--tracking-uri"):
        if option in shown and not shown[shown.index(option) + 1].startswith("http"):
            del shown[shown.index(option):shown.index(option) + 2]
    return "harness " + " ".join(argument for argument in shown if argument != "--quiet")


def _shown(text: str, folder: Path, harness_root: Path = PROJECT_ROOT) -> str:
    """``text`` with the temporary folder as ``$TMP`` and the project as ``.``."""
    text = text.replace(str(folder), "$TMP").replace(str(PROJECT_ROOT) + "/", "./")
    return text.replace(str(harness_root) + "/", "./")


def markdown(outcomes: list[Outcome], before: list[Outcome] | None = None) -> str:
    """The results file: one row per case (with the older version's exit status and what it
    left, where ``before`` has the same cases run by it), and how many behave as intended."""
    good = sum(outcome.as_intended for outcome in outcomes)
    earlier = {outcome.case.name: outcome for outcome in before or []}
    lines = ["# Bad input: what the harness says, its exit status, and what it leaves behind",
             "",
             "Written by `harness bench bad-input` (`harness/bench/bad_input.py`). Each case "
             "writes its inputs into a fresh temporary folder (`$TMP`) and runs the CLI there "
             "as a user would. Sweep cases run `harness sweep run $TMP/spec.yaml --workers 1 "
             "--quiet --state-dir $TMP/state --tracking-uri sqlite:///$TMP/mlflow.db` (a spec "
             "of one tiny EGNN trial, two for Delta-ML) plus the options shown. Intended: a "
             "refused input prints one line on stderr, exits 2 and leaves nothing beside the "
             "inputs; a unit the harness knows is converted (exit 0).",
             "", f"**{good} of {len(outcomes)} cases as intended.**", ""]
    header = ["#", "bad input", "command", "intended", "exit", "stderr lines",
              "message (last line of stderr)", "left on disk", "s", "ok"]
    if earlier:
        header[-1:-1] = ["before: exit", "before: lines", "before: left on disk", "before: s"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for number, outcome in enumerate(outcomes, 1):
        message = outcome.message
        if len(message) > MESSAGE_CHARACTERS:
            message = message[:MESSAGE_CHARACTERS - 3] + "..."
        cells = [str(number), outcome.case.name, f"`{outcome.command}`", outcome.case.expected,
                 _status(outcome), str(outcome.stderr_lines), f"`{message}`" if message else "",
                 ", ".join(outcome.left_behind) or "nothing", f"{outcome.seconds:.1f}",
                 "yes" if outcome.as_intended else "**no**"]
        old = earlier.get(outcome.case.name)
        if earlier:
            cells[-1:-1] = ["", "", "", ""] if old is None else [
                _status(old), str(old.stderr_lines), ", ".join(old.left_behind) or "nothing",
                f"{old.seconds:.1f}"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _status(outcome: Outcome) -> str:
    return "timeout" if outcome.status is None else str(outcome.status)


def run_all(names: list[str] | None = None, progress: Callable[[Outcome], None] | None = None,
            harness_root: Path = PROJECT_ROOT) -> list[Outcome]:
    """Every case (or those whose name contains one of ``names``), in table order."""
    chosen = [case for case in CASES
              if not names or any(name.lower() in case.name.lower() for name in names)]
    outcomes = []
    for case in chosen:
        outcome = run_case(case, harness_root=harness_root)
        if progress is not None:
            progress(outcome)
        outcomes.append(outcome)
    return outcomes
