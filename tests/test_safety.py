"""Model files cannot run code: crafted pickles on every loading path leave no marker and give one line;
a changed byte anywhere in a model file is refused; a replaced registry artifact is refused."""

import os
import pickle
import shutil
import subprocess
import sys

import pytest

from conftest import CONFIG
from sectortag import ModelError, SectorTagger
from sectortag.bundle import MAGIC


class Payload:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted(path, marker, inner=False):
    """A pickle that runs code: as the whole file, or wrapped in a dict like the old bundles."""
    obj = {"format": "sectortag-bundle/1", "payload": pickle.dumps(Payload(marker))} if inner else Payload(marker)
    path.write_bytes(pickle.dumps(obj))
    return path


@pytest.mark.parametrize("inner", [False, True])
def test_a_crafted_pickle_file_is_refused_without_running(tmp_path, inner):
    marker = tmp_path / "pwned"
    path = crafted(tmp_path / "evil.sectortag", marker, inner)
    with pytest.raises(ModelError, match="not a sectortag model file.*never loads"):
        SectorTagger.load(path)
    assert not marker.exists()


def test_crafted_files_on_the_env_and_champion_paths_and_the_cli(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    evil = crafted(tmp_path / "evil.sectortag", marker)
    monkeypatch.setenv("SECTORTAG_MODEL", str(evil))
    with pytest.raises(ModelError):
        SectorTagger.load()
    monkeypatch.delenv("SECTORTAG_MODEL")
    (tmp_path / "training").mkdir()  # a project folder, whose champion file is the crafted one
    shutil.copy(CONFIG, tmp_path / "training" / "config.toml")
    (tmp_path / "models").mkdir()
    shutil.copy(evil, tmp_path / "models" / "champion.sectortag")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError):
        SectorTagger.load()
    (tmp_path / "in.jsonl").write_text('{"text": "Thu ngân sách."}\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sectortag.cli", "predict", "--input", "in.jsonl", "--output", "o.jsonl"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not a sectortag model file" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_every_changed_byte_is_refused(model_file, tmp_path):
    data = model_file.read_bytes()
    header = data.index(b"\n") + 1
    # every byte of the header, and one in every 997 of the body
    positions = list(range(header)) + list(range(header, len(data), 997)) + [len(data) - 1]
    target = tmp_path / "flipped.sectortag"
    for i in positions:
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        target.write_bytes(bytes(flipped))
        with pytest.raises(ModelError):
            SectorTagger.load(target)
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="damaged or altered"):
        SectorTagger.load(target)


def test_a_well_hashed_file_with_a_wrong_inside_is_refused(tmp_path):
    import hashlib

    body = b"PK not really a zip"
    (tmp_path / "x.sectortag").write_bytes(MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    with pytest.raises(ModelError, match="not a readable sectortag model"):
        SectorTagger.load(tmp_path / "x.sectortag")
    with pytest.raises(ModelError, match="not found"):
        SectorTagger.load(tmp_path / "missing.sectortag")


def test_trusted_hash_is_checked_before_reading(model_file):
    with pytest.raises(ModelError, match="differs from the trusted record"):
        SectorTagger.load(model_file, trusted_sha256="0" * 64)
