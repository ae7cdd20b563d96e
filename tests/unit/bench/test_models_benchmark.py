"""The model benchmark runs end to end at --quick sizes and reports sane figures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.bench.models import (
    QUICK,
    REFERENCE_EGNN,
    EGNNPytorchEnergy,
    benchmark_model_names,
    format_table,
    run_benchmark,
    write_json,
)
from harness.cli import main
from harness.errors import ConfigError
from models.mace import mace_installed


def test_quick_benchmark_reports_every_model_and_molecule(tmp_path: Path):
    settings = replace(QUICK, cpu_threads=1)
    threads_before = torch.get_num_threads()
    rows = run_benchmark(settings, devices=["cpu"], model_names=["egnn"], fresh_processes=False)
    assert torch.get_num_threads() == threads_before
    assert [(row.model, row.molecule, row.n_atoms) for row in rows] == [
        ("egnn", "ethanol", 9), ("egnn", "aspirin", 21)]
    for row in rows:
        assert row.train_frames_per_s > 0 and row.force_ms > 0 and row.peak_memory_mib >= 0
    assert "aspirin" in format_table(rows)
    write_json(rows, settings, tmp_path / "bench.json")
    record = json.loads((tmp_path / "bench.json").read_text())
    assert record["settings"]["batch_size"] == QUICK.batch_size
    assert len(record["rows"]) == 2


def test_reference_egnn_wrapper_gives_invariant_energies_and_forces():
    pytest.importorskip("egnn_pytorch")
    torch.manual_seed(0)
    model = EGNNPytorchEnergy(n_features=16, n_layers=2).double()
    atomic_numbers = torch.tensor([6, 8, 1, 1] * 2)
    positions = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    batch = torch.tensor([0] * 4 + [1] * 4)
    energies = model(atomic_numbers, positions, batch, 2)
    (gradient,) = torch.autograd.grad(energies.sum(), positions)
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))
    rotated = model(atomic_numbers, positions.detach() @ rotation.T + 1.0, batch, 2)
    torch.testing.assert_close(rotated, energies.detach())
    assert energies.shape == (2,) and torch.all(torch.isfinite(gradient))


def test_reference_egnn_is_in_the_quick_run_when_installed():
    pytest.importorskip("egnn_pytorch")
    rows = run_benchmark(replace(QUICK, cpu_threads=1), devices=["cpu"],
                         model_names=[REFERENCE_EGNN], molecules=["ethanol"],
                         fresh_processes=False)
    assert rows[0].model == REFERENCE_EGNN and rows[0].train_frames_per_s > 0


def test_mace_is_benchmarked_exactly_when_mace_torch_is_installed():
    names = benchmark_model_names()
    assert {"egnn", "gemnet_t"} <= set(names)
    assert ("mace" in names) == mace_installed()


def test_unknown_molecule_is_a_config_error():
    with pytest.raises(ConfigError, match="--molecules"):
        run_benchmark(QUICK, model_names=["egnn"], molecules=["caffeine"],
                      fresh_processes=False)


def test_cli_rejects_cuda_without_a_device(capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["bench", "models", "--device", "cuda", "--quick"]) == 2
    assert "--device" in capsys.readouterr().err
