"""The ``harness`` command: parses arguments, then calls library functions.

A user mistake (``HarnessError``) is printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import ConfigError, HarnessError


def _data_generate(args: argparse.Namespace) -> None:
    from harness.data.generate.pipeline import GenerationPlan, generate
    from harness.data.generate.sampling import SamplingSettings

    plan = GenerationPlan(
        molecule=args.molecule,
        smiles=args.smiles,
        xyz=None if args.xyz is None else Path(args.xyz),
        sampling=SamplingSettings(n_frames=args.frames, seed=args.seed),
        levels=tuple(args.levels),
        accurate_frames=args.accurate_frames,
        accurate_chunk_size=args.chunk_size,
    )
    generate(Path(args.folder), plan, progress=not args.quiet)


def _data_label(args: argparse.Namespace) -> None:
    from harness.data.label.pipeline import LabelPlan, TestFrames, label_dataset

    test = TestFrames(args.accurate, args.n_test, args.split_seed) if args.skip_test_frames \
        else None
    plan = LabelPlan(levels=tuple(args.levels), n_frames=None if args.all else args.frames,
                     chunk_size=args.chunk_size, charge=args.charge, skip_test=test)
    print(label_dataset(Path(args.source), Path(args.out_folder), plan,
                        progress=not args.quiet))


def _data_mix(args: argparse.Namespace) -> None:
    from harness.data.mix import mix_levels

    shares: dict[str, float] = {}
    for entry in args.level:
        level, _, share = entry.partition("=")
        try:
            shares[level] = float(share) if share else 1.0
        except ValueError:
            raise HarnessError(f"--level {entry}: expected LEVEL or LEVEL=SHARE, e.g. "
                               "gaff2=0.5") from None
    print(mix_levels(Path(args.source), Path(args.out_folder), shares, args.name, args.seed))


def _data_inspect(args: argparse.Namespace) -> None:
    from harness.data.readers import load_any
    from harness.data.store import summarise

    print(json.dumps(summarise(load_any(args.path)), indent=2))


def _data_compare(args: argparse.Namespace) -> None:
    from harness.data.discrepancy import default_reference_level, discrepancy_report
    from harness.data.readers import load_any
    from harness.errors import DataError

    own_levels = load_any(args.path).levels
    accurate = args.accurate or default_reference_level(own_levels)
    levels = dict(own_levels)
    for cheap_path in args.cheap or []:  # single files: one level each, named by the file
        (cheap,) = load_any(cheap_path).levels.values()
        levels[Path(cheap_path).stem] = cheap
    if accurate not in levels:
        raise DataError(args.path, "levels", f"no level '{accurate}'; has {sorted(levels)}")
    print(json.dumps(discrepancy_report(levels, accurate), indent=2))


def _data_fetch(args: argparse.Namespace) -> None:
    from harness.data.public import fetch

    for path in fetch(args.collection, args.molecule, Path(args.out)):
        print(path)


def _bench_models(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from harness.bench.models import QUICK, BenchSettings, format_table, run_benchmark, write_json

    settings = replace(QUICK if args.quick else BenchSettings(), cpu_threads=args.threads)
    rows = run_benchmark(settings, devices=[args.device] if args.device else None,
                         model_names=args.models, molecules=args.molecules)
    print(format_table(rows))
    if args.json:
        write_json(rows, settings, Path(args.json))


def _bench_trainer(args: argparse.Namespace) -> None:
    from harness.bench.trainer import CASES, SMOKE_CASES, run_benchmark, write_json

    cases = SMOKE_CASES if args.smoke else CASES
    rows = run_benchmark(cases, args.dataset, repeats=args.repeats, threads=args.threads)
    if args.json:
        write_json(rows, Path(args.json), args.threads)
    slow = [row.case for row in rows if row.ratio < args.goal]
    if slow:
        print(f"harness: below {args.goal} of the bare loop: {', '.join(slow)}")


def _train(args: argparse.Namespace) -> None:
    from harness.train.experiment import convergence_warnings, run_file, summary_line

    results = run_file(args.config, args.output, args.overrides)
    print(summary_line(results))
    for line in convergence_warnings(results):
        print(f"harness: warning: {line}", file=sys.stderr)


def _bench_sweep(args: argparse.Namespace) -> None:
    from harness.bench.sweep_scaling import format_rows, run_scaling

    print(format_rows(run_scaling(args.spec, args.profile, args.workers)))


def _bench_stopping(args: argparse.Namespace) -> None:
    from harness.bench.early_stopping import DEFAULT_THRESHOLD, format_summary, replay_folders

    threshold = (DEFAULT_THRESHOLD if args.improvement_threshold is None
                 else args.improvement_threshold)
    for patience in args.patience:
        replays = replay_folders([Path(folder) for folder in args.folders], patience, threshold)
        print("\n".join(format_summary(replays, patience)))


def _bench_decays(args: argparse.Namespace) -> None:
    from harness.bench.plateau_decays import folder_decays, format_summary

    for window in args.window:
        decays = folder_decays([Path(folder) for folder in args.folders], window)
        print("\n".join(format_summary(decays, window)))


def _bench_bad_input(args: argparse.Namespace) -> None:
    from harness.bench.bad_input import markdown, run_all

    def show(outcome) -> None:
        status = "timeout" if outcome.status is None else outcome.status
        verdict = "ok" if outcome.as_intended else "NOT AS INTENDED"
        print(f"{outcome.case.name}: exit {status}, {outcome.stderr_lines} line(s), "
              f"{outcome.seconds:.1f} s: {verdict}", flush=True)

    before = None
    if args.before:
        print(f"with the CLI of {args.before}:")
        before = run_all(args.only, show, Path(args.before).resolve())
        print("with this checkout's CLI:")
    outcomes = run_all(args.only, show)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(markdown(outcomes, before))
    print(args.out)


def _sweep_plan(args: argparse.Namespace) -> None:
    from harness.sweeps.plan import format_plan, make_plan
    from harness.sweeps.spec import load_spec

    print(format_plan(make_plan(load_spec(args.spec, args.profile, args.overrides), args.spec)))


def _sweep_run(args: argparse.Namespace) -> None:
    from harness.data.store import write_json_atomically
    from harness.redaction import has_secret, redact
    from harness.sweeps.runner import run_sweep
    from harness.sweeps.worker import STORAGE_ENV

    if args.storage and has_secret(args.storage):
        print(f"warning: the password in --storage is visible to local users (ps) while this "
              f"runs; pass it by PGPASSWORD, ~/.pgpass or ${STORAGE_ENV} instead",
              file=sys.stderr)
    storage = args.storage or os.environ.get(STORAGE_ENV) or None
    # empty strings (as params.yaml passes them through dvc.yaml) mean "the default"
    summary = run_sweep(args.spec, args.profile, args.workers, storage,
                        args.tracking_uri or None,
                        Path(args.state_dir) if args.state_dir else None, args.retry_failed,
                        progress=not args.quiet, keep_stale=args.keep_stale_results,
                        overrides=args.overrides)
    print("\n".join(summary.lines()))
    if args.summary:
        write_json_atomically(Path(args.summary), summary.as_json())
    print(f"browse: mlflow ui --backend-store-uri {redact(summary.tracking_uri)} "
          "--host 127.0.0.1 --port 5000")
    if args.workers > 0 and not summary.finished:  # trials left although workers ran
        raise SystemExit(1)


def _sweep_status(args: argparse.Namespace) -> None:
    from harness.sweeps.status import sweep_status
    from harness.sweeps.worker import STORAGE_ENV

    storage = args.storage or os.environ.get(STORAGE_ENV) or None
    print("\n".join(sweep_status(args.spec, args.profile, storage,
                                 Path(args.state_dir) if args.state_dir else None,
                                 args.overrides)))


def _sweep_save(args: argparse.Namespace) -> None:
    from harness.sweeps.record import DEFAULT_MAX_MODEL_MB, save_record
    from harness.sweeps.worker import STORAGE_ENV

    storage = args.storage or os.environ.get(STORAGE_ENV) or None
    max_model_mb = DEFAULT_MAX_MODEL_MB if args.max_model_mb is None else args.max_model_mb
    saved = save_record(args.spec, args.profile, Path(args.out), storage,
                        Path(args.state_dir) if args.state_dir else None, max_model_mb)
    print("\n".join(saved.lines()))


def _sweep_load(args: argparse.Namespace) -> None:
    from harness.sweeps.record import load_record

    loaded = load_record(args.spec, args.profile, Path(args.record),
                         Path(args.state_dir) if args.state_dir else None)
    print("\n".join([*loaded.lines(), f"next: harness sweep run {args.spec} --profile "
                     f"{args.profile} (records them without training, trains the rest)"]))


def _md_run(args: argparse.Namespace) -> None:
    from harness.md.observables import HistogramSettings
    from harness.md.results import json_safe
    from harness.md.runner import MDSettings
    from harness.md.single import RunRequest, run_md
    from harness.validation import validated

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    settings = validated(MDSettings, {
        "ensemble": args.ensemble, "steps": args.steps, "step_fs": args.step_fs,
        "temperature_K": args.temperature_K, "friction_per_fs": args.friction_per_fs,
        "save_interval_fs": args.save_interval_fs, "seeds": tuple(range(args.seeds)),
        "stability": {"max_pair_distance_A": args.max_pair_distance,
                      "bond_stretch_factor": args.bond_stretch_factor}}, "harness md run")
    request = RunRequest(
        model=args.model, dataset=args.dataset, reference_level=args.reference_level,
        start_frame=args.start_frame, dtype=args.dtype, device=args.device, engine=args.engine,
        histogram=validated(HistogramSettings, {"r_max_A": args.r_max, "n_bins": args.bins},
                            "harness md run (--r-max, --bins)"),
        tracking_uri=args.tracking_uri, experiment=args.experiment,
        out=Path(args.out) if args.out else None,
        trajectory_dir=Path(args.trajectory_dir) if args.trajectory_dir else None)
    outcome = run_md(request, settings)
    print(json.dumps(json_safe({"model": outcome["model"], "summary": outcome["summary"],
                                "files": outcome["files"]}), indent=2))


def _md_sweep(args: argparse.Namespace) -> None:
    from harness.md.results import json_safe
    from harness.md.sweep import run_sweep
    from harness.md.sweep_progress import summary_lines

    # with --json, stdout holds the JSON document alone and the progress goes to stderr
    progress_to = sys.stderr if args.json else sys.stdout
    outcome = run_sweep(args.spec, args.tracking_uri or None,
                        lambda line: print(line, file=progress_to, flush=True))
    if args.json:
        print(json.dumps(json_safe(outcome), indent=2))
    else:
        print("\n".join(summary_lines(outcome["summary"], outcome["files"])))


def _export(args: argparse.Namespace) -> None:
    import torch

    from harness.export import export_torchscript, molecule_of
    from harness.md.loading import load_model

    loaded = load_model(args.model, getattr(torch, args.dtype), "cpu", args.tracking_uri)
    atomic_numbers, example = molecule_of(loaded.config, args.geometry, loaded.source)
    path = export_torchscript(loaded.model, atomic_numbers, example, Path(args.out),
                              loaded.source)
    print(f"{path}: energy (kcal/mol) and forces (kcal/mol/A) of {len(atomic_numbers)} atoms "
          f"from positions (n_atoms, 3) in Angstrom; load with torch.jit.load")


def _report(args: argparse.Namespace) -> None:
    from harness.report.build import build_report

    if args.from_reports:
        _merged_report(args)
        return
    outcome = build_report(args.tracking_uri or None, args.experiment, Path(args.out),
                           args.profile or None, args.seeds)
    print("\n".join(outcome.headline))
    print(f"report: {outcome.folder / 'report.md'} ({len(outcome.files)} files; logged to "
          f"MLflow run(s) {', '.join(outcome.logged_to)})")


def _merged_report(args: argparse.Namespace) -> None:
    from harness.report.merge import merge_reports

    given = [flag for flag, value in (("--tracking-uri", args.tracking_uri),
                                      ("--experiment", args.experiment),
                                      ("--profile", args.profile), ("--seeds", args.seeds))
             if value]
    if given:
        raise ConfigError("harness report", given[0], "reads MLflow; --from-reports reads the "
                          "reports' results.csv instead: give one or the other")
    lines, files = merge_reports([Path(folder) for folder in args.from_reports],
                                 Path(args.out))
    print("\n".join(lines))
    print(f"report: {Path(args.out).resolve() / 'report.md'} ({len(files)} files, from "
          f"{len(args.from_reports)} reports)")


def _add_md_commands(commands: argparse._SubParsersAction) -> None:
    md = commands.add_parser("md", help="molecular dynamics with a trained model"
                             ).add_subparsers(dest="md_command", required=True)
    md_run = md.add_parser("run", help="Langevin or NVE trajectories of one model, N seeds")
    md_run.add_argument("model", help="training run folder, model.pt, or MLflow run id")
    md_run.add_argument("--dataset", default="data/ethanol",
                        help="start geometry and reference MD for h(r)")
    md_run.add_argument("--reference-level", default="unlabeled",
                        help="level whose MD frames give the reference h(r)")
    md_run.add_argument("--start-frame", type=int, default=0,
                        help="frame of the dataset every trajectory starts from")
    md_run.add_argument("--ensemble", choices=["langevin", "nve"], default="langevin",
                        help="thermostat (Langevin) or constant energy")
    md_run.add_argument("--steps", type=int, default=2000, help="MD steps per trajectory")
    md_run.add_argument("--step-fs", type=float, default=0.5, help="time step (fs)")
    md_run.add_argument("--temperature-K", type=float, default=500.0,
                        help="thermostat and initial-velocity temperature (K)")
    md_run.add_argument("--friction-per-fs", type=float, default=0.002,
                        help="Langevin friction in 1/fs (the paper: 0.002)")
    md_run.add_argument("--save-interval-fs", type=float, default=10.0,
                        help="fs between stored frames")
    md_run.add_argument("--seeds", type=int, default=4, help="trajectories (seeds 0..N-1)")
    md_run.add_argument("--max-pair-distance", type=float, default=5.0, help="Angstrom")
    md_run.add_argument("--bond-stretch-factor", type=float, default=1.5,
                        help="a bond longer than this times its start length fails the run")
    md_run.add_argument("--r-max", type=float, default=6.0, help="h(r) range, Angstrom")
    md_run.add_argument("--bins", type=int, default=300, help="h(r) bins")
    md_run.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                        help="floating-point precision of the model in MD")
    md_run.add_argument("--device", default="cpu", help="cpu or cuda")
    md_run.add_argument("--engine", choices=["batched", "ase"], default="batched",
                        help="one model call for all seeds, or ASE's integrators one by one")
    md_run.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    md_run.add_argument("--out", help="write OUT.csv and OUT.json")
    md_run.add_argument("--trajectory-dir", help="write seed_<k>.extxyz frames here")
    md_run.add_argument("--experiment", help="log one MLflow run per trajectory here")
    md_run.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else ./mlflow.db")
    md_run.set_defaults(run=_md_run)

    md_sweep = md.add_parser("sweep", help="MD stability of a finished training sweep's "
                             "models over step sizes (trains nothing; resumable)")
    md_sweep.add_argument("spec", help="YAML spec, e.g. sweeps/md-stability.yaml")
    md_sweep.add_argument("--tracking-uri", help="MLflow store, over the spec's tracking.uri "
                          "(default: $MLFLOW_TRACKING_URI, else ./mlflow.db)")
    md_sweep.add_argument("--json", action="store_true",
                          help="print the summary and result files as JSON")
    md_sweep.set_defaults(run=_md_sweep)


DESCRIPTION = """Train machine-learning force fields that reach coupled-cluster accuracy from a few
expensive labels and many cheap ones (ASTEROID), beside standard training and baselines, at
equal data cost. Start with `harness sweep run sweeps/default.yaml --workers 2` or
`harness train configs/ethanol-egnn-asteroid-xtb.yaml`; `harness COMMAND -h` for each command.
"""


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends an option's default to its help, unless it has none worth saying (None, a
    flag's False, a repeatable option's empty list) or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default in (None, False, [], argparse.SUPPRESS) or "default" in text
                or not action.option_strings and action.nargs is None):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's help shows each option's default."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asteroid-harness")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown (not installed)"


def _add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("--set", "-S", action="append", default=[], dest="overrides",
                        metavar="KEY=VALUE", help=f"override one value of the file (repeatable; "
                        f"the value is YAML), e.g. {example}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data = commands.add_parser("data", help="generate and inspect datasets").add_subparsers(
        dest="data_command", required=True
    )
    generate = data.add_parser("generate", help="sample and label a dataset (resumable)")
    generate.add_argument("folder", help="dataset folder, e.g. data/ethanol")
    generate.add_argument("--molecule", default="ethanol", help="name written to the dataset")
    molecule = generate.add_mutually_exclusive_group()
    molecule.add_argument("--smiles", default="CCO", help="the molecule to sample")
    molecule.add_argument("--xyz", help="the molecule as an xyz / extxyz file instead: its first "
                          "frame gives the atom order and the start of sampling (charge 0)")
    generate.add_argument("--frames", type=int, default=10_000, help="sampled configurations")
    generate.add_argument("--seed", type=int, default=0, help="seed of the sampling MD")
    generate.add_argument("--levels", nargs="+", default=["xtb", "gaff2", "mmff94", "ccsd"],
                          help="levels of theory to label with")
    generate.add_argument("--accurate-frames", type=int, default=1000,
                          help="frames to label at the expensive levels (ccsd)")
    generate.add_argument("--chunk-size", type=int, default=20,
                          help="frames per resumable chunk at the expensive levels")
    generate.add_argument("--quiet", action="store_true", help="no progress bars")
    generate.set_defaults(run=_data_generate)

    label = data.add_parser("label", help="label the geometries of an existing dataset at "
                            "cheap levels into a multi-level folder (resumable)")
    label.add_argument("source", help="MD17 / rMD17 npz, extxyz, ASE database or dataset folder")
    label.add_argument("out_folder", help="dataset folder to write (work goes to "
                       "OUT_FOLDER.partial until every level is done)")
    label.add_argument("--levels", nargs="+", default=["xtb", "gaff2", "mmff94"],
                       help="levels of theory to label with")
    how_many = label.add_mutually_exclusive_group(required=True)
    how_many.add_argument("--frames", type=int, help="label the first N geometries")
    how_many.add_argument("--all", action="store_true", help="label every geometry")
    label.add_argument("--chunk-size", type=int, default=100,
                       help="labels per resumable chunk")
    label.add_argument("--charge", type=int, default=0,
                       help="total charge (e) for finding bond orders from the geometry")
    label.add_argument("--skip-test-frames", action="store_true",
                       help="leave out the test frames every training split of the accurate "
                       "level tests on (nothing uses their cheap labels)")
    label.add_argument("--accurate", help="with --skip-test-frames: the level the split draws "
                       "them from (default: as harness data compare chooses)")
    label.add_argument("--n-test", type=int, default=500,
                       help="with --skip-test-frames: the training config's data.n_test")
    label.add_argument("--split-seed", type=int, default=0,
                       help="with --skip-test-frames: the training config's data.split_seed")
    label.add_argument("--quiet", action="store_true", help="no progress output")
    label.set_defaults(run=_data_label)

    mix = data.add_parser("mix", help="a cheap level of uneven quality: each frame labelled by "
                          "one of several levels, drawn at random (a copy of the folder)")
    mix.add_argument("source", help="dataset folder (data/ethanol)")
    mix.add_argument("out_folder", help="the copy to write, with the mixed level added")
    mix.add_argument("--level", action="append", required=True, metavar="LEVEL[=SHARE]",
                     help="a level and its share of the frames (repeat; equal shares by "
                     "default)")
    mix.add_argument("--name", help="the mixed level's name (default: the levels joined by +)")
    mix.add_argument("--seed", type=int, default=0, help="of the draw of each frame's level")
    mix.set_defaults(run=_data_mix)

    fetch = data.add_parser("fetch", help="download a published dataset (needs internet)")
    fetch.add_argument("collection", choices=["md17", "md17-ccsd"], help="which publication")
    fetch.add_argument("molecule", help="aspirin, benzene, ethanol, malonaldehyde or toluene")
    fetch.add_argument("out", help="folder; files go to OUT/COLLECTION/")
    fetch.set_defaults(run=_data_fetch)

    inspect = data.add_parser("inspect", help="print a dataset summary as JSON")
    inspect.add_argument("path", help="dataset folder, npz, extxyz or ASE database")
    inspect.set_defaults(run=_data_inspect)
    compare = data.add_parser("compare", help="each level's labels against the accurate level "
                              "on the same geometries (JSON)")
    compare.add_argument("path", help="multi-level dataset folder, e.g. data/ethanol")
    compare.add_argument("--accurate", help="the reference level (default: the labelled "
                         "level with the highest cost per label, or the file's only level)")
    compare.add_argument("--cheap", nargs="+", help="single-level files to compare with it")
    compare.set_defaults(run=_data_compare)

    train = commands.add_parser("train", help="run one training config end to end (resumable)")
    train.add_argument("config", help="YAML config, e.g. configs/ethanol-egnn-standard.yaml")
    train.add_argument("--output", help="output folder (default: the config's output_dir)")
    _add_set_option(train, "schedules.accurate.max_steps=2000")
    train.set_defaults(run=_train)

    bench_command = commands.add_parser(
        "bench", help="measure the harness itself: speed, sweep scaling, bad input")
    bench = bench_command.add_subparsers(dest="bench_command", required=True)
    bench_models = bench.add_parser(
        "models", help="training frames/s and force latency of every model (and egnn-pytorch)")
    bench_models.add_argument("--device", choices=["cpu", "cuda"],
                              help="default: cpu, and cuda when present")
    bench_models.add_argument("--quick", action="store_true", help="tiny batch, one step")
    bench_models.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    bench_models.add_argument("--models", nargs="+", help="default: installed ones, egnn-pytorch")
    bench_models.add_argument("--molecules", nargs="+", help="default: ethanol aspirin")
    bench_models.add_argument("--json", help="also write the rows to this JSON file")
    bench_models.set_defaults(run=_bench_models)

    bench_trainer = bench.add_parser(
        "trainer", help="steps/s of Trainer.fit against a bare training loop of the same model")
    bench_trainer.add_argument("--dataset", default="data/ethanol", help="multi-level dataset")
    bench_trainer.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    bench_trainer.add_argument("--repeats", type=int, default=3, help="runs of each loop")
    bench_trainer.add_argument("--goal", type=float, default=0.9, help="ratio to flag below")
    bench_trainer.add_argument("--smoke", action="store_true", help="one tiny case (seconds)")
    bench_trainer.add_argument("--json", help="also write the rows to this JSON file")
    bench_trainer.set_defaults(run=_bench_trainer)

    bench_sweep = bench.add_parser(
        "sweep", help="overhead per trial and the speed-up of more workers (fresh runs)")
    bench_sweep.add_argument("spec", nargs="?", default="sweeps/default.yaml",
                             help="sweep spec to time")
    bench_sweep.add_argument("--profile", default="smoke", help="the spec's profile")
    bench_sweep.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                             help="worker counts to compare (the first 1 is the reference)")
    bench_sweep.set_defaults(run=_bench_sweep)
    bench_stopping = bench.add_parser(
        "stopping", help="steps an early-stopping patience would have saved, and the rise of "
        "the best validation loss, replayed from finished trials' recorded histories")
    bench_stopping.add_argument("folders", nargs="+",
                                help="trial or sweep folders (every results.json below)")
    bench_stopping.add_argument("--patience", type=int, nargs="+", default=[1000, 1500, 2000],
                                help="patiences to replay (steps)")
    bench_stopping.add_argument("--improvement-threshold", type=float,
                                help="relative improvement that counts as progress (default: "
                                "the schedules' default)")
    bench_stopping.set_defaults(run=_bench_stopping)
    bench_decays = bench.add_parser(
        "decays", help="whether each learning-rate decay of the recorded stages came at a "
        "plateau: the fall of the best validation loss before and after it")
    bench_decays.add_argument("folders", nargs="+",
                              help="folders searched for results.json (trial folders, records)")
    bench_decays.add_argument("--window", type=int, nargs="+", default=[500, 1000],
                              help="steps before and after each decay")
    bench_decays.set_defaults(run=_bench_decays)
    bench_bad_input = bench.add_parser(
        "bad-input", help="every kind of bad input on the real CLI: message, exit status, "
        "what is left on disk (markdown)")
    bench_bad_input.add_argument("--out", default="results/bad-input.md",
                                 help="markdown table to write")
    bench_bad_input.add_argument("--only", nargs="+", metavar="WORD",
                                 help="only the cases whose name contains one of these")
    bench_bad_input.add_argument("--before", metavar="CHECKOUT",
                                 help="also run the cases with the CLI of another checkout "
                                 "(e.g. an export of an older commit) and show its results")
    bench_bad_input.set_defaults(run=_bench_bad_input)

    sweep = commands.add_parser("sweep", help="grids of trials: Optuna queue, MLflow record"
                                ).add_subparsers(dest="sweep_command", required=True)
    sweep_plan = sweep.add_parser("plan", help="print a spec's cells and trials (runs nothing)")
    sweep_plan.add_argument("spec", help="sweep spec, e.g. sweeps/default.yaml")
    sweep_plan.add_argument("--profile", default="default", help="smoke, default, paper, ...")
    _add_set_option(sweep_plan, "seeds=[0]")
    sweep_plan.set_defaults(run=_sweep_plan)
    sweep_run = sweep.add_parser("run", help="run or resume a sweep (the same command again "
                                 "resumes; on another machine with --storage it joins)")
    sweep_run.add_argument("spec", help="sweep spec, e.g. sweeps/default.yaml")
    sweep_run.add_argument("--workers", type=int, default=1,
                           help="worker processes: one per GPU, else CPU threads split")
    sweep_run.add_argument("--profile", default="default", help="smoke, default, paper, ...")
    sweep_run.add_argument("--storage",
                           help="Optuna storage URL, e.g. postgresql://user@host/db; a password "
                           "comes from PGPASSWORD or ~/.pgpass (default: $HARNESS_SWEEP_STORAGE, "
                           "else SQLite in the sweep's state folder)")
    sweep_run.add_argument("--tracking-uri", help="MLflow tracking URI (default: the spec's, "
                           "$MLFLOW_TRACKING_URI, else mlflow.db in the project)")
    sweep_run.add_argument("--state-dir", help="root of the sweeps' state folders "
                           "(default: runs/sweeps)")
    sweep_run.add_argument("--retry-failed", action="store_true",
                           help="run the trials that failed by themselves again")
    sweep_run.add_argument("--keep-stale-results", action="store_true",
                           help="keep results of trials run with other code or data (default: "
                           "run them again); the report marks the mixed versions")
    sweep_run.add_argument("--quiet", action="store_true",
                           help="no progress lines (the worker logs still have them)")
    sweep_run.add_argument("--summary", help="also write the summary as JSON to this file")
    _add_set_option(sweep_run, "seeds=[0]")
    sweep_run.set_defaults(run=_sweep_run)
    status = sweep.add_parser(
        "status", help="each trial's state and result, read from the study (changes nothing)")
    status.add_argument("spec", help="sweep spec, e.g. sweeps/default.yaml")
    status.add_argument("--profile", default="default", help="smoke, default, paper, ...")
    status.add_argument("--storage", help="Optuna storage URL (default: as harness sweep run)")
    status.add_argument("--state-dir", help="root of the sweeps' state folders "
                        "(default: runs/sweeps)")
    _add_set_option(status, "seeds=[0]")
    status.set_defaults(run=_sweep_status)
    save = sweep.add_parser(
        "save", help="copy the sweep's finished trials (results, configs, models, bias tables; "
        "no checkpoints) into a folder to commit or carry to another machine")
    save.add_argument("spec", help="sweep spec, e.g. sweeps/ethanol-table.yaml")
    save.add_argument("--profile", default="default", help="smoke, default, paper, ...")
    save.add_argument("--out", required=True, help="record folder to write (replaced whole)")
    save.add_argument("--max-model-mb", type=float,
                      help="leave out model files larger than this, default 5 (their trials "
                      "keep their metrics; record.json names them)")
    save.add_argument("--storage", help="Optuna storage URL (default: as harness sweep run)")
    save.add_argument("--state-dir", help="root of the sweeps' state folders "
                      "(default: runs/sweeps)")
    save.set_defaults(run=_sweep_save)
    load = sweep.add_parser(
        "load", help="put a saved sweep's trials into a sweep not yet run here; `harness sweep "
        "run` then records them without training and trains the rest")
    load.add_argument("spec", help="sweep spec, e.g. sweeps/ethanol-table.yaml")
    load.add_argument("record", help="folder written by `harness sweep save`")
    load.add_argument("--profile", default="default", help="smoke, default, paper, ...")
    load.add_argument("--state-dir", help="root of the sweeps' state folders "
                      "(default: runs/sweeps)")
    load.set_defaults(run=_sweep_load)
    _add_md_commands(commands)

    export = commands.add_parser("export", help="a trained model as one TorchScript file that "
                                 "plain PyTorch loads (energy and forces of one molecule)")
    export.add_argument("model", help="run folder, model.pt, or MLflow run id (runs:/ID)")
    export.add_argument("--out", required=True, help="the TorchScript file to write")
    export.add_argument("--geometry", help="a file or dataset with the molecule (default: the "
                        "model's accurate training data)")
    export.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="precision of the exported model")
    export.add_argument("--tracking-uri", help="for a run id: default $MLFLOW_TRACKING_URI, "
                        "else ./mlflow.db")
    export.set_defaults(run=_export)

    report = commands.add_parser("report", help="paper-style tables and figures from MLflow")
    report.add_argument("--tracking-uri", help="MLflow tracking URI (default: "
                        "$MLFLOW_TRACKING_URI, else mlflow.db in the project)")
    report.add_argument("--experiment", nargs="+", action="extend", metavar="NAME",
                        help="sweep experiment(s) to report (default: every one with runs)")
    report.add_argument("--out", default="reports", help="report folder (replaced whole)")
    report.add_argument("--profile", help="only the sweep trials of this profile "
                        "(default: every profile)")
    report.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                        help="only these training seeds (default: all), e.g. the finished "
                        "seeds of a sweep still running")
    report.add_argument("--from-reports", nargs="+", metavar="FOLDER",
                        help="instead of MLflow, merge the results.csv of these report folders "
                        "(e.g. one table's budgets, recorded in different stores)")
    report.set_defaults(run=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except HarnessError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`harness sweep plan ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
