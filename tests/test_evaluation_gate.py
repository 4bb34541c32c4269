"""The CI gate: the default configuration, trained here, must keep its macro-F1 on every evaluation set and
keep its false-tag rate under a ceiling.

Floors are the measured macro-F1 minus 0.03, ceilings the measured false-tag rate plus 0.03 (measured with
`make evaluate` on the commit that set them: reports/evaluation.md). The control — a model trained on
shuffled labels must fail the floors — is computed once per change of the floors (`pytest -m control`, which
rewrites tests/gate_control.json); every run checks that the stored control belongs to these floors.
"""

import hashlib
import json
import random
from pathlib import Path

import pytest

from sectortag.corpus import evaluation_sets
from sectortag.jobs.evaluate import table_sets
from sectortag.labels import SECTOR_CODES
from sectortag.metrics import report
from sectortag.model import SectorTagger
from sectortag.settings import model_params

# measured by `make evaluate` (reports/evaluation.md): macro-F1 and false-tag rate of the default model
MEASURED = {
    "ours": (0.906, 0.079), "ours_articles": (0.838, 0.129), "seed": (0.629, 0.211),
    "news": (0.781, 0.295), "news_articles": (0.477, 0.047), "legal": (0.506, 0.298),
}
MARGIN = 0.03
CONTROL = Path(__file__).with_name("gate_control.json")


def floors() -> dict[str, tuple[float, float]]:
    """(lowest macro-F1, highest false-tag rate) allowed per set."""
    return {name: (round(f1 - MARGIN, 3), round(ftr + MARGIN, 3)) for name, (f1, ftr) in MEASURED.items()}


def floors_key() -> str:
    return hashlib.sha256(json.dumps(floors(), sort_keys=True).encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def frames(settings):
    return table_sets(evaluation_sets(settings))


def scores(model, frames) -> dict[str, tuple[float, float]]:
    out = {}
    for name, frame in frames.items():
        r = report(list(frame.labels), model.predict(list(frame.text)), SECTOR_CODES)
        out[name] = (r["macro_f1"], r["false_tag_rate"])
    return out


def failures(got: dict[str, tuple[float, float]]) -> dict[str, str]:
    bad = {}
    for name, (f1, ftr) in got.items():
        low, high = floors()[name]
        if f1 < low:
            bad[name] = f"macro-F1 {f1:.3f} < floor {low}"
        elif ftr == ftr and ftr > high:  # NaN (no paragraph without a sector) never fails
            bad[name] = f"false-tag rate {ftr:.3f} > ceiling {high}"
    return bad


def test_default_model_keeps_its_floors(tagger, frames):
    got = scores(tagger, frames)
    print("default model (macro-F1, false-tag rate):", {k: (round(a, 3), round(b, 3)) for k, (a, b) in got.items()})
    if not {"seed", "news", "news_articles", "legal"} <= set(got):
        print(f"../shared absent: the gate checks {sorted(got)} only")
    bad = failures(got)
    assert not bad, f"below the gate: {bad}"


def test_the_stored_control_belongs_to_these_floors_and_fails_them():
    control = json.loads(CONTROL.read_text(encoding="utf-8"))
    assert control["floors_key"] == floors_key(), "floors changed: re-run the control with `pytest -m control`"
    got = {k: tuple(v) for k, v in control["shuffled"].items()}
    assert set(failures(got)) == set(got), f"a shuffled-label model passed part of the gate: {got}"


@pytest.mark.control
def test_control_shuffled_labels_fail_the_gate(settings, corpus, frames):
    train, dev = corpus[corpus.split == "train"], corpus[corpus.split == "dev"]
    labels = list(train.labels)
    random.Random(0).shuffle(labels)
    shuffled = SectorTagger(**model_params(settings)).fit(list(train.text), labels, list(dev.text), list(dev.labels))
    got = scores(shuffled, frames)
    CONTROL.write_text(json.dumps({"floors_key": floors_key(), "shuffled": got}, indent=1) + "\n", encoding="utf-8")
    assert set(failures(got)) == set(got), f"a shuffled-label model passed part of the gate: {got}"
