"""The README's Python example, run exactly as written against the test daemon."""

import os
import re
import subprocess
import sys

from conftest import ROOT


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the README's Python section has one example"
    return blocks[0]


def test_the_readme_example_is_five_lines():
    assert len(readme_example().strip().splitlines()) == 5


def test_the_readme_example_runs(daemon_url):
    env = dict(os.environ, POSTBOX_URL=daemon_url)
    done = subprocess.run(
        [sys.executable, "-c", readme_example()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "python" / "tests",  # not python/: there `import postbox` finds the sources
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "b'hello'\n"
