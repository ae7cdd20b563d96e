"""Published MD17 (DFT) and MD17@CCSD datasets: where they live and how to fetch them.

``harness data fetch`` is the command of the DVC stages ``fetch_md17`` and ``fetch_md17_ccsd``;
DVC then versions what it wrote. A download goes to a temporary file that is checked by the
project's own reader before it is moved into place, so a broken transfer leaves nothing behind.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from harness.data.readers import read_md17_npz
from harness.errors import DataError

SGDML_BASE_URL = "http://www.quantum-machine.org/gdml/data/npz/"

MD17_FILES = {
    "aspirin": "md17_aspirin.npz",
    "benzene": "md17_benzene2017.npz",
    "ethanol": "md17_ethanol.npz",
    "malonaldehyde": "md17_malonaldehyde.npz",
    "toluene": "md17_toluene.npz",
}

# Each archive holds <stem>-train.npz (1000 frames) and <stem>-test.npz (500 frames).
MD17_CCSD_ARCHIVES = {
    "aspirin": "aspirin_ccsd.zip",
    "benzene": "benzene_ccsd_t.zip",
    "ethanol": "ethanol_ccsd_t.zip",
    "malonaldehyde": "malonaldehyde_ccsd_t.zip",
    "toluene": "toluene_ccsd_t.zip",
}


def fetch(collection: str, molecule: str, out_folder: Path) -> list[Path]:
    """Download one molecule of ``collection`` ('md17' or 'md17-ccsd') into ``out_folder``."""
    out_folder = Path(out_folder) / collection
    if collection == "md17":
        table = MD17_FILES
    elif collection == "md17-ccsd":
        table = MD17_CCSD_ARCHIVES
    else:
        raise DataError("<command line>", "collection",
                        f"unknown '{collection}'; known: md17, md17-ccsd")
    if molecule not in table:
        raise DataError("<command line>", "molecule",
                        f"unknown '{molecule}'; known: {sorted(table)}")
    payload = _download(SGDML_BASE_URL + table[molecule])
    if collection == "md17":
        return [_install_npz(payload, out_folder / f"{molecule}.npz")]
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        members = [n for n in archive.namelist() if n.endswith(".npz") and "__MACOSX" not in n]
        return [
            _install_npz(archive.read(name), out_folder / f"{molecule}-{_split_of(name)}.npz")
            for name in members
        ]


def _split_of(member: str) -> str:
    stem = Path(member).stem
    return stem.rsplit("-", 1)[-1] if "-" in stem else stem


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.read()
    except OSError as error:
        raise DataError(url, "url", f"download failed ({error}); is this machine online?") \
            from error


def _install_npz(payload: bytes, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".npz", dir=destination.parent, delete=False) as handle:
        handle.write(payload)
        temporary = Path(handle.name)
    try:
        read_md17_npz(temporary)
    except DataError:
        temporary.unlink()
        raise
    shutil.move(temporary, destination)
    return destination
