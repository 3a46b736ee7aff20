"""The README's Python examples run: every ```python block of README.md is executed.

Each block runs on its own (fresh globals) with the working directory set to a folder that
holds the material the examples name:

    page.jpg, page.png   a generated photo of a printed puzzle (`synthetic_photo(seed=3)`)
    clip.mp4, clip.json  a generated 60-frame clip of a printed puzzle and its truth

(the built-in sample, `streamocr.samples.sample_clip()`, is there too). A block that must not
run (it opens a camera or a window) is marked by an HTML comment, invisible on GitHub, on the
line just above its fence:

    <!-- readme-test: skip -->
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from streamocr.synth.builders import synthetic_photo
from streamocr.synth.clips import build_clip

README = Path(__file__).resolve().parent.parent / "README.md"
SKIP_MARK = "<!-- readme-test: skip -->"
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block of a Markdown text."""

    line: int  # line number of the opening fence, from 1
    language: str  # the first word of the info string, lower case ("" when none)
    code: str
    skip: bool  # marked with SKIP_MARK on the line above


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown text, in order."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        info = opening["info"].split()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if closing and closing["fence"].startswith(fence) and not closing["info"]:
                break
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        above = lines[i - 1].strip() if i > 0 else ""
        blocks.append(
            CodeBlock(
                i + 1, info[0].lower() if info else "", "\n".join(body) + "\n", above == SKIP_MARK
            )
        )
        i = j + 1
    return blocks


def python_blocks(text: str) -> list[CodeBlock]:
    """The blocks to run: Python ones not marked to skip."""
    return [b for b in code_blocks(text) if b.language in ("python", "py") and not b.skip]


SAMPLE = """\
Intro.

```python
import streamocr
```

```sh
streamocr read page.jpg
```

<!-- readme-test: skip -->
```python
camera_loop()
```

~~~py
x = 1
```
not the end
~~~

```Python title="nested"
if True:
    y = 2
```
"""


def test_the_harness_finds_the_python_blocks_and_honours_the_skip_mark():
    blocks = code_blocks(SAMPLE)
    assert [(b.line, b.language, b.skip) for b in blocks] == [
        (3, "python", False),
        (7, "sh", False),
        (12, "python", True),
        (16, "py", False),
        (22, "python", False),
    ]
    assert blocks[3].code == "x = 1\n```\nnot the end\n"
    assert [b.line for b in python_blocks(SAMPLE)] == [3, 16, 22]
    compile(blocks[4].code, "nested", "exec")  # indentation inside a block is kept


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the photo and the clip the README's examples name."""
    folder = tmp_path_factory.mktemp("readme")
    photo = synthetic_photo(seed=3)
    for name in ("page.jpg", "page.png"):
        cv2.imwrite(str(folder / name), photo.image)
    build_clip(folder / "clip.mp4", frames=60, size=(480, 360), seed=2)
    return folder


README_BLOCKS = python_blocks(README.read_text())


@pytest.mark.skipif(not README_BLOCKS, reason="README.md has no Python example yet")
@pytest.mark.parametrize("block", README_BLOCKS, ids=[f"README.md:{b.line}" for b in README_BLOCKS])
def test_the_readme_example_runs(block: CodeBlock, material: Path, monkeypatch) -> None:
    monkeypatch.chdir(material)
    # Padded so that a traceback names the README's own line numbers.
    code = compile("\n" * block.line + block.code, str(README), "exec")
    exec(code, {"__name__": "__readme__"})
