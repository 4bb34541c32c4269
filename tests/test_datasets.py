"""datasets/ passes `make validate-data`: schema, duplicates, minimum counts, splits, second-pass coverage."""

from conftest import CONFIG, ROOT
from sectortag.jobs import validate_data


def test_datasets_are_valid(monkeypatch):
    monkeypatch.chdir(ROOT)
    summary, problems = validate_data.validate(CONFIG)
    assert problems == []
    assert summary["records"] >= validate_data.MINIMUM["records"]
    assert summary["part2"]["records"] >= validate_data.MINIMUM_PART2["records"]


def test_validation_catches_near_duplicates_and_bad_codes():
    base = {"genre": "news", "topic": "t", "_where": "x"}
    records = [
        {**base, "id": "a", "text": "Tỉnh thu ngân sách đạt 10.000 tỷ đồng trong năm 2023.", "labels": ["tai_chinh"]},
        {**base, "id": "b", "text": "Tỉnh thu ngân sách đạt 11.000 tỷ đồng trong năm 2023.", "labels": ["tai_chinh"]},
        {**base, "id": "a", "text": "Khai mạc hội chợ.", "labels": ["y_te"]},
    ]
    assert any("near duplicates" in p for p in validate_data.check_duplicates(records))
    problems = validate_data.check_schema(records, ("tai_chinh",))
    assert any("duplicate id 'a'" in p for p in problems) and any("unknown code" in p for p in problems)
