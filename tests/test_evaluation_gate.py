"""The CI gate: the default configuration, trained here, must keep its macro-F1 on every evaluation set.

Floors are the measured value minus 0.03 (measured with `make evaluate` on the commit that set them).
A model trained on shuffled labels must land below every floor, which proves the gate can fail.
"""

import importlib.util
import random

import pytest

from conftest import ROOT, SHARED
from sectortag.labels import SECTOR_CODES
from sectortag.metrics import report
from sectortag.train import tagger_from_config

spec = importlib.util.spec_from_file_location("evaluate", ROOT / "training" / "evaluate.py")
evaluate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evaluate)

# macro-F1 of the default configuration on each test part, measured by `make evaluate` (reports/evaluation.md)
MEASURED = {"ours": 0.884, "seed": 0.625, "news": 0.793, "legal": 0.537}
FLOORS = {name: round(value - 0.03, 3) for name, value in MEASURED.items()}


@pytest.fixture(scope="module")
def sets(config):
    return evaluate.evaluation_sets(config, SHARED)


def scores(model, sets):
    return {name: report(list(parts["test"].labels), model.predict(list(parts["test"].text)), SECTOR_CODES)["macro_f1"]
            for name, parts in sets.items() if "test" in parts}


def test_floors_are_the_measurements_minus_three_points():
    assert FLOORS == {"ours": 0.854, "seed": 0.595, "news": 0.763, "legal": 0.507}


def test_default_model_keeps_its_floors(tagger, sets):
    if not set(FLOORS) <= set(sets):
        print(f"../shared absent: the gate checks {sorted(set(sets) & set(FLOORS))} only")
    got = scores(tagger, sets)
    print("default model macro-F1:", {k: round(v, 3) for k, v in got.items()})
    below = {name: (round(v, 3), FLOORS[name]) for name, v in got.items() if v < FLOORS[name]}
    assert not below, f"macro-F1 below the floor (got, floor): {below}; all scores: {got}"


def test_gate_fails_a_model_trained_on_shuffled_labels(config, corpus, sets):
    train, dev = corpus[corpus.split == "train"], corpus[corpus.split == "dev"]
    labels = list(train.labels)
    random.Random(0).shuffle(labels)
    shuffled = tagger_from_config(config).fit(list(train.text), labels, list(dev.text), list(dev.labels))
    got = scores(shuffled, sets)
    print("shuffled-label model macro-F1:", {k: round(v, 3) for k, v in got.items()})
    assert all(v < FLOORS[name] for name, v in got.items()), f"shuffled-label model passed a floor: {got} vs {FLOORS}"
