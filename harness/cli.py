"""The ``harness`` command: parses arguments, then calls library functions.

A user mistake (``HarnessError``) is printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError


def _data_generate(args: argparse.Namespace) -> None:
    from harness.data.generate.pipeline import GenerationPlan, generate
    from harness.data.generate.sampling import SamplingSettings

    plan = GenerationPlan(
        molecule=args.molecule,
        smiles=args.smiles,
        sampling=SamplingSettings(n_frames=args.frames, seed=args.seed),
        levels=tuple(args.levels),
        accurate_frames=args.accurate_frames,
        accurate_chunk_size=args.chunk_size,
    )
    generate(Path(args.folder), plan, progress=not args.quiet)


def _data_inspect(args: argparse.Namespace) -> None:
    from harness.data.readers import load_any
    from harness.data.store import summarise

    print(json.dumps(summarise(load_any(args.path)), indent=2))


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


def _bench_table(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from harness.bench.asteroid_table import SMOKE, TableSettings, run_table, write_outputs

    settings = SMOKE if args.smoke else TableSettings()
    settings = replace(settings, dataset=args.dataset)
    if args.methods:
        settings = replace(settings, methods=tuple(args.methods))
    table = run_table(settings, Path(args.runs), workers=args.workers)
    for path in write_outputs(table, Path(args.out)):
        print(path)


def _train(args: argparse.Namespace) -> None:
    from harness.train.experiment import run_file, summary_line

    print(summary_line(run_file(args.config, args.output)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="generate and inspect datasets").add_subparsers(
        dest="data_command", required=True
    )
    generate = data.add_parser("generate", help="sample and label a dataset (resumable)")
    generate.add_argument("folder", help="dataset folder, e.g. data/ethanol")
    generate.add_argument("--molecule", default="ethanol")
    generate.add_argument("--smiles", default="CCO")
    generate.add_argument("--frames", type=int, default=10_000, help="sampled configurations")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--levels", nargs="+", default=["xtb", "gaff2", "mmff94", "ccsd"])
    generate.add_argument("--accurate-frames", type=int, default=1000,
                          help="frames to label at the expensive levels (ccsd)")
    generate.add_argument("--chunk-size", type=int, default=20,
                          help="frames per resumable chunk at the expensive levels")
    generate.add_argument("--quiet", action="store_true")
    generate.set_defaults(run=_data_generate)

    fetch = data.add_parser("fetch", help="download a published dataset (needs internet)")
    fetch.add_argument("collection", choices=["md17", "md17-ccsd"])
    fetch.add_argument("molecule", help="aspirin, benzene, ethanol, malonaldehyde or toluene")
    fetch.add_argument("out", help="folder; files go to OUT/COLLECTION/")
    fetch.set_defaults(run=_data_fetch)

    inspect = data.add_parser("inspect", help="print a dataset summary as JSON")
    inspect.add_argument("path", help="dataset folder, npz, extxyz or ASE database")
    inspect.set_defaults(run=_data_inspect)

    train = commands.add_parser("train", help="run one training config end to end (resumable)")
    train.add_argument("config", help="YAML config, e.g. configs/ethanol-egnn-standard.yaml")
    train.add_argument("--output", help="output folder (default: the config's output_dir)")
    train.set_defaults(run=_train)

    bench = commands.add_parser("bench", help="measure speed").add_subparsers(
        dest="bench_command", required=True
    )
    bench_models = bench.add_parser(
        "models", help="training frames/s and force latency of every model (and egnn-pytorch)")
    bench_models.add_argument("--device", choices=["cpu", "cuda"],
                              help="default: cpu, and cuda when present")
    bench_models.add_argument("--quick", action="store_true", help="tiny batch, one step")
    bench_models.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    bench_models.add_argument("--models", nargs="+", help="default: all, and egnn-pytorch")
    bench_models.add_argument("--molecules", nargs="+", help="default: ethanol aspirin")
    bench_models.add_argument("--json", help="also write the rows to this JSON file")
    bench_models.set_defaults(run=_bench_models)

    bench_table = bench.add_parser(
        "table", help="force MAE of every method at equal data cost (resumable)")
    bench_table.add_argument("--dataset", default="data/ethanol")
    bench_table.add_argument("--runs", default="runs/ethanol-table", help="run folders")
    bench_table.add_argument("--out", default="results/ethanol-egnn-table",
                             help="writes OUT.csv and OUT.md")
    bench_table.add_argument("--workers", type=int, default=2, help="runs at once")
    bench_table.add_argument("--methods", nargs="+", help="default: every column")
    bench_table.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    bench_table.set_defaults(run=_bench_table)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except HarnessError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
