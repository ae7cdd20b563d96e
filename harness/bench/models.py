"""Speed of the backbones: training throughput and single-molecule force latency.

For each model, molecule and device: training frames per second (energy and force loss with
the force term's double backward, Adam step, default batch 32) and milliseconds per force
evaluation of one molecule (the molecular-dynamics use), with peak memory. Peak memory is
``torch.cuda.max_memory_allocated`` on CUDA; on CPU (Linux) it is the process's maximum
resident set size (``VmHWM``) at the end minus its resident set size just before the model is
built. That high-water mark never goes down, which is why every measurement runs
in a fresh process; the figure includes allocator slack and is an approximation.

Every backbone runs at its registry defaults (EGNN 5x128, GemNet-T's MD17 sizes, MACE at
mace-torch's defaults, 128x0e+128x1o); one whose optional package is absent (MACE without
mace-torch) is left out. The independent ``egnn-pytorch`` package (5 layers, 128 features) is
wrapped as an energy model here, and only here, as the side-by-side reference.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from harness.bench.molecules import ASPIRIN, ETHANOL, Geometry
from harness.errors import ConfigError
from models import ForceField, build_model, energy_and_forces, installed_models

REFERENCE_EGNN = "egnn-pytorch"
MOLECULES: dict[str, Geometry] = {"ethanol": ETHANOL, "aspirin": ASPIRIN}
ENERGY_WEIGHT = 0.001  # rho of the paper's loss: forces dominate


@dataclass(frozen=True)
class BenchSettings:
    """How many frames and repetitions; the defaults keep a CPU run near two minutes."""

    batch_size: int = 32
    warmup_steps: int = 1
    timed_steps: int = 3
    warmup_evaluations: int = 2
    timed_evaluations: int = 10
    cpu_threads: int | None = None  # None: torch's default


QUICK = BenchSettings(batch_size=4, warmup_steps=1, timed_steps=1, warmup_evaluations=1,
                      timed_evaluations=2)


@dataclass(frozen=True)
class Measurement:
    """One row of the table; memory in MiB, measured as ``memory_kind`` says.

    ``threads`` is torch's intra-op thread count (it matters on CPU only).
    """

    model: str
    device: str
    molecule: str
    n_atoms: int
    train_frames_per_s: float
    force_ms: float
    peak_memory_mib: float
    memory_kind: str
    threads: int


class EGNNPytorchEnergy(ForceField):
    """egnn-pytorch's EGNN_Network as an energy model: node features -> linear -> sum.

    Takes batches of equally sized molecules (its dense (batch, atoms, features) layout);
    coordinates are not updated, as in this project's EGNN, so both see the same physics.
    """

    def __init__(self, max_atomic_number: int = 10, n_features: int = 128, n_layers: int = 5
                 ) -> None:
        from egnn_pytorch import EGNN_Network

        super().__init__(max_atomic_number)
        self.network = EGNN_Network(num_tokens=max_atomic_number + 1, dim=n_features,
                                    depth=n_layers, m_dim=n_features, update_coors=False)
        self.atom_energy = nn.Linear(n_features, 1)

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        if len(atomic_numbers) % n_molecules:
            raise ValueError("EGNNPytorchEnergy needs molecules of equal size in a batch")
        n_atoms = len(atomic_numbers) // n_molecules
        features, _ = self.network(atomic_numbers.view(n_molecules, n_atoms),
                                   positions.view(n_molecules, n_atoms, 3))
        return self.atom_energy(features).squeeze(-1).sum(dim=-1)


def benchmark_model_names() -> list[str]:
    """Every registered backbone that can be built here, then the reference package when it is
    installed."""
    names = installed_models()
    try:
        import egnn_pytorch  # noqa: F401
    except ImportError:
        return names
    return [*names, REFERENCE_EGNN]


def _build(model_name: str) -> ForceField:
    if model_name == REFERENCE_EGNN:
        return EGNNPytorchEnergy()
    return build_model(model_name)


def _frames(geometry: Geometry, n_frames: int, device: torch.device,
            generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """``n_frames`` copies of the molecule displaced by 0.05 Angstrom noise, as one batch."""
    n_atoms = len(geometry.atomic_numbers)
    positions = torch.as_tensor(geometry.positions, dtype=torch.float32)
    noise = 0.05 * torch.randn(n_frames, n_atoms, 3, generator=generator)
    atomic_numbers = torch.as_tensor(geometry.atomic_numbers).repeat(n_frames)
    batch = torch.arange(n_frames).repeat_interleave(n_atoms)
    return (atomic_numbers.to(device), (positions + noise).reshape(-1, 3).to(device),
            batch.to(device))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _training_frames_per_s(model: ForceField, geometry: Geometry, settings: BenchSettings,
                           device: torch.device) -> float:
    generator = torch.Generator().manual_seed(0)
    atomic_numbers, positions, batch = _frames(geometry, settings.batch_size, device, generator)
    target_energies = torch.randn(settings.batch_size, generator=generator).to(device)
    target_forces = torch.randn(positions.shape, generator=generator).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        energies, forces = energy_and_forces(model, atomic_numbers, positions.clone(), batch,
                                             settings.batch_size, create_graph=True)
        loss = ((1 - ENERGY_WEIGHT) * (forces - target_forces).pow(2).mean()
                + ENERGY_WEIGHT * (energies - target_energies).pow(2).mean())
        loss.backward()
        optimizer.step()

    for _ in range(settings.warmup_steps):
        step()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(settings.timed_steps):
        step()
    _synchronize(device)
    return settings.batch_size * settings.timed_steps / (time.perf_counter() - start)


def _force_ms(model: ForceField, geometry: Geometry, settings: BenchSettings,
              device: torch.device) -> float:
    atomic_numbers, positions, batch = _frames(geometry, 1, device,
                                               torch.Generator().manual_seed(1))
    model.eval()
    for _ in range(settings.warmup_evaluations):
        energy_and_forces(model, atomic_numbers, positions.clone(), batch, 1)
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(settings.timed_evaluations):
        energy_and_forces(model, atomic_numbers, positions.clone(), batch, 1)
    _synchronize(device)
    return 1000.0 * (time.perf_counter() - start) / settings.timed_evaluations


def _status_mib(field: str) -> float:
    """A memory figure (KiB) from /proc/self/status in MiB.

    The high-water mark and the current RSS are both read here, from the same kernel counters,
    so the mark is never below an earlier RSS (getrusage's ru_maxrss and /proc/self/statm are
    counted apart and can differ by a page or so).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(model_name: str, molecule: str, device_name: str,
            settings: BenchSettings) -> Measurement:
    """One row: train throughput, force latency and peak memory of one model on one molecule.

    The thread count and the random state of the calling process are restored afterwards.
    """
    default_threads = torch.get_num_threads()
    torch.set_num_threads(settings.cpu_threads or default_threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return _measure(model_name, MOLECULES[molecule], torch.device(device_name),
                            settings)
    finally:
        torch.set_num_threads(default_threads)


def _measure(model_name: str, geometry: Geometry, device: torch.device,
             settings: BenchSettings) -> Measurement:
    rss_before = _status_mib("VmRSS")
    model = _build(model_name).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    frames_per_s = _training_frames_per_s(model, geometry, settings, device)
    force_ms = _force_ms(model, geometry, settings, device)
    if device.type == "cuda":
        peak, memory_kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda max allocated"
    else:
        peak, memory_kind = _status_mib("VmHWM") - rss_before, "max RSS - RSS before"
    return Measurement(model_name, device.type, geometry.name, len(geometry.atomic_numbers),
                       frames_per_s, force_ms, peak, memory_kind, torch.get_num_threads())


def _measure_in_fresh_process(arguments: tuple[str, str, str, BenchSettings]) -> Measurement:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(measure, arguments)


def available_devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def run_benchmark(settings: BenchSettings = BenchSettings(), devices: list[str] | None = None,
                  model_names: list[str] | None = None, molecules: list[str] | None = None,
                  fresh_processes: bool = True) -> list[Measurement]:
    """Every model on every molecule and device; ``fresh_processes=False`` is for quick tests
    (then CPU memory growth is that of the shared process, not of each measurement)."""
    devices = devices or available_devices()
    model_names = model_names or benchmark_model_names()
    molecules = molecules or list(MOLECULES)
    if "cuda" in devices and not torch.cuda.is_available():
        raise ConfigError("command line", "--device", "cuda requested but no CUDA device found")
    unknown = sorted(set(molecules) - set(MOLECULES))
    if unknown:
        raise ConfigError("command line", "--molecules", f"unknown {unknown}; known: "
                          f"{list(MOLECULES)}")
    run_one = _measure_in_fresh_process if fresh_processes else lambda task: measure(*task)
    return [run_one((name, molecule, device, settings))
            for device in devices for name in model_names for molecule in molecules]


def format_table(rows: list[Measurement]) -> str:
    header = (f"{'model':<14} {'device':<6} {'threads':>7} {'molecule':<8} {'atoms':>5} "
              f"{'train frames/s':>14} {'force ms':>9} {'peak MiB':>9}  memory")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row.model:<14} {row.device:<6} {row.threads:>7} {row.molecule:<8} "
                     f"{row.n_atoms:>5} "
                     f"{row.train_frames_per_s:>14.1f} {row.force_ms:>9.2f} "
                     f"{row.peak_memory_mib:>9.1f}  {row.memory_kind}")
    return "\n".join(lines)


def write_json(rows: list[Measurement], settings: BenchSettings, path: Path) -> None:
    record = {
        "settings": asdict(settings),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "rows": [asdict(row) for row in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
