"""The model file: data only, never code, and every byte checked before anything is parsed.

Layout: one header line `SECTORTAG-MODEL 2 <sha256 of the rest>\\n`, then a zip archive holding
`model.json` (labels, vocabularies, parameters, metadata, library versions) and `arrays.npz` (IDF weights,
coefficients, intercepts, calibration, thresholds), read with `allow_pickle=False`. Loading a file can
therefore not run code, whatever its content; a damaged or altered byte anywhere fails the hash.
The SHA-256 of the whole file is also what the registry records at registration (`trusted_sha256`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .files import replaced_atomically
from .linear import FeatureBlock, LinearSectorModel

MAGIC = b"SECTORTAG-MODEL 2 "
FORMAT = "sectortag-model/2"
MAX_BYTES = 2_000_000_000


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_bytes(model: LinearSectorModel, params: dict[str, Any], metadata: dict[str, Any]) -> bytes:
    """The file content for `model` with its hyper-parameters and metadata (both JSON-serialisable)."""
    doc = {
        "format": FORMAT,
        "labels": list(model.labels),
        "segment": model.segment,
        "blocks": [{"analyser": b.analyser, "ngram_range": list(b.ngram_range), "sublinear_tf": b.sublinear_tf,
                    "terms": list(b.terms)} for b in model.blocks],
        "params": params,
        "metadata": metadata,
        "versions": library_versions(),
    }
    arrays = {"coef": model.coef.astype(np.float32), "intercept": model.intercept, "slope": model.slope,
              "offset": model.offset, "thresholds": model.thresholds}
    arrays.update({f"idf_{i}": b.idf for i, b in enumerate(model.blocks)})
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.json", json.dumps(doc, ensure_ascii=False, default=_plain))
        z.writestr("arrays.npz", npz.getvalue())
    body = body.getvalue()
    return MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def save(path: str | Path, model: LinearSectorModel, params: dict[str, Any], metadata: dict[str, Any]) -> str:
    """Write the model file atomically (temporary name, then rename); return the SHA-256 of the whole file."""
    data = to_bytes(model, params, metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load(path: str | Path, trusted_sha256: str | None = None) -> tuple[LinearSectorModel, dict[str, Any], str]:
    """Read a model file: (model, document with `params`, `metadata`, `versions`, the SHA-256 of the whole file,
    hashed from the bytes read, so the file is read once). Raises ModelError naming the file and the problem;
    with `trusted_sha256`, the whole file must have that hash."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found (train one with `make train`, or pass a path or models:/ URI)")
    if path.stat().st_size > MAX_BYTES:
        raise ModelError(f"{path}: {path.stat().st_size:,} bytes is too large for a sectortag model")
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if trusted_sha256 is not None and sha256 != trusted_sha256:
        raise ModelError(f"{path}: SHA-256 {sha256} differs from the trusted record "
                         f"({trusted_sha256}); the file was replaced or damaged")
    head, _, body = data.partition(b"\n")
    if not head.startswith(MAGIC):
        hint = " (a model from sectortag 0.1 is a pickle file, which this version never loads: retrain it)" \
            if data[:1] == b"\x80" else ""
        raise ModelError(f"{path}: not a sectortag model file{hint}")
    if hashlib.sha256(body).hexdigest().encode() != head[len(MAGIC):]:
        raise ModelError(f"{path}: contents do not match the SHA-256 in the file's header: the file is damaged or altered")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            doc = json.loads(z.read("model.json").decode("utf-8"))
            with np.load(io.BytesIO(z.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        return _model(doc, arrays), doc, sha256
    except ModelError:
        raise
    except Exception as e:  # a well-hashed file with a wrong inside: written by something else
        raise ModelError(f"{path}: not a readable sectortag model ({type(e).__name__}: {e})") from None


def _model(doc: dict, arrays: dict[str, np.ndarray]) -> LinearSectorModel:
    if doc.get("format") != FORMAT:
        raise ModelError(f"model format {doc.get('format')!r}; this version of sectortag reads {FORMAT}")
    blocks = tuple(FeatureBlock(b["analyser"], tuple(b["ngram_range"]), tuple(b["terms"]), arrays[f"idf_{i}"].astype(np.float64),
                                bool(b["sublinear_tf"])) for i, b in enumerate(doc["blocks"]))
    labels = tuple(doc["labels"])
    model = LinearSectorModel(labels, bool(doc["segment"]), blocks, arrays["coef"].astype(np.float64),
                              arrays["intercept"], arrays["slope"], arrays["offset"], arrays["thresholds"])
    n, k = model.n_features, len(labels)
    shapes = {"coef": (n, k), "intercept": (k,), "slope": (k,), "offset": (k,), "thresholds": (k,)}
    for name, shape in shapes.items():
        if getattr(model, name).shape != shape:
            raise ModelError(f"array {name!r} has shape {getattr(model, name).shape}, expected {shape}")
    for i, b in enumerate(blocks):
        if b.idf.shape != (len(b.terms),) or b.analyser not in ("word", "syllable"):
            raise ModelError(f"feature block {i} is inconsistent")
    return model


def library_versions() -> dict[str, str]:
    """Versions of the libraries that produced the model (recorded; the file itself needs only numpy)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("sectortag", "scikit-learn", "underthesea", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
