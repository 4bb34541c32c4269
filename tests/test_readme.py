"""The README's Python example runs as written, against a freshly trained champion bundle."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_readme_python_example_runs(model_file, tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    (tmp_path / "training").mkdir()  # a project of its own, whose champion is the freshly trained model
    shutil.copy(ROOT / "training" / "config.toml", tmp_path / "training")
    (tmp_path / "models").mkdir()
    shutil.copy(model_file, tmp_path / "models" / "champion.sectortag")
    proc = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tai_chinh" in proc.stdout and "paragraph" in proc.stdout and "bai-2" in proc.stdout


def test_readme_analyst_commands_run_as_written(model_file, article_folder, tmp_path):
    """The "For analysts" predict and report commands, run by bash in a project holding a folder `news/`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## For analysts", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```bash\n(.*?)```", section, re.S)[0]
    commands = [line for line in block.splitlines() if line.startswith(("sectortag predict", "sectortag report"))]
    assert len(commands) == 2
    (tmp_path / "training").mkdir()
    shutil.copy(ROOT / "training" / "config.toml", tmp_path / "training")
    (tmp_path / "models").mkdir()
    shutil.copy(model_file, tmp_path / "models" / "champion.sectortag")
    shutil.copytree(article_folder, tmp_path / "news")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    for command in commands:
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    import pandas as pd

    summary = pd.read_csv(tmp_path / "summary.csv", encoding="utf-8-sig")
    tags = pd.read_csv(tmp_path / "tags.csv", encoding="utf-8-sig")
    assert len(summary) == len(list((tmp_path / "news").glob("*.txt"))) and "why_tai_chinh" in tags.columns
    assert "data-article" in (tmp_path / "report.html").read_text(encoding="utf-8")
