"""The model file written by training and read by MD: one format, one writer, one reader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.errors import DataError
from harness.model_file import MODEL_FILE, load_model, model_path, save_model
from models import build_model

TINY_EGNN = {"n_features": 8, "n_layers": 1}
CONFIG = {"method": "standard", "model": {"name": "egnn", "hyperparameters": TINY_EGNN}}


def energy(model: torch.nn.Module) -> torch.Tensor:
    numbers = torch.tensor([6, 8, 1])
    positions = torch.tensor([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [-0.5, 0.9, 0.0]],
                             dtype=torch.float64)
    with torch.no_grad():
        return model.double()(numbers, positions, torch.zeros(3, dtype=torch.long), 1)


def test_what_training_saves_md_loads_back_unchanged(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("egnn", TINY_EGNN)
    assert not model_path(tmp_path).is_file()
    path = save_model(tmp_path, model, "egnn", TINY_EGNN, CONFIG)
    assert path == model_path(tmp_path) == tmp_path / MODEL_FILE and path.is_file()
    assert sorted(item.name for item in tmp_path.iterdir()) == [MODEL_FILE]  # no temporary
    stored = load_model(path)
    assert stored.config == CONFIG
    assert torch.equal(energy(stored.model), energy(model))


def test_a_file_written_before_the_model_file_module_still_loads(tmp_path: Path) -> None:
    """The mapping ``harness train`` has always written, saved here by hand."""
    torch.manual_seed(0)
    model = build_model("egnn", TINY_EGNN)
    torch.save({"state_dict": model.state_dict(), "model": "egnn",
                "hyperparameters": TINY_EGNN, "config": CONFIG}, tmp_path / "model.pt")
    assert torch.equal(energy(load_model(tmp_path / "model.pt").model), energy(model))


@pytest.mark.parametrize(("content", "field"), [
    (b"not a model file", MODEL_FILE),
    ({"state_dict": {}, "model": "egnn"}, "hyperparameters"),
    ({"state_dict": {}, "model": "schnet", "hyperparameters": {}}, "model.name"),
    ({"state_dict": {}, "model": "egnn", "hyperparameters": {"n_hidden": 3}}, "model.n_hidden"),
    ({"state_dict": {}, "model": "egnn", "hyperparameters": TINY_EGNN}, "state_dict"),
    ({"state_dict": {}, "model": "egnn", "hyperparameters": TINY_EGNN,
      "config": Path("objects are refused")}, MODEL_FILE),
])
def test_a_bad_file_is_one_line_naming_the_file_and_field(tmp_path: Path, content: object,
                                                          field: str) -> None:
    path = tmp_path / MODEL_FILE
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(DataError) as caught:
        load_model(path, source="runs:/abc/model.pt")
    assert caught.value.source == "runs:/abc/model.pt" and caught.value.field == field
    assert "\n" not in str(caught.value)
