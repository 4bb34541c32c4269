"""The README's Python example runs as written, against a freshly trained champion bundle."""

import re
import shutil
import subprocess
import sys

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
