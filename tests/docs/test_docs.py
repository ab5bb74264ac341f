"""The documentation: the site builds strictly, and the getting-started and
Python API pages' code runs (on a tiny backbone and tiny data), so the docs
cannot drift from the code.

Code blocks run here: every ```python block, and every command line of a
```bash / ```console block that starts with `tfllm ` or `python scripts/`,
of the pages in EXECUTED_PAGES, in page order, sharing one namespace and one
working folder per page. A block whose fence is preceded by the line
`<!-- test: skip -->` is not run (installs, downloads, `make`). Before
running, the backbone name "minilm" becomes a tiny BERT preset folder the
test writes, every `epochs` becomes 1, and CoNLL-2003 is a tiny CoNLL copy
(`$TFLLM_DATA_DIR/conll2003/`, and `conll2003/` in the working folder).
"""

import importlib
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXECUTED_PAGES = ["getting-started.md", "python-api.md"]
SKIP_MARK = "<!-- test: skip -->"
SHELL_LANGS = ("bash", "console", "sh", "shell")


def code_blocks(path):
    """The fenced code blocks of a Markdown file.

    Returns:
        list of dict: `lang` (str, "" when the fence has none), `code`
        (str), `line` (int, 1-based line of the opening fence) and `skip`
        (bool: the previous non-blank line is `<!-- test: skip -->`).
    """
    blocks, current, previous = [], None, ""
    for number, line in enumerate(path.read_text(encoding="utf-8")
                                  .splitlines(), start=1):
        stripped = line.strip()
        if current is None:
            match = re.match(r"^(`{3,})\s*([\w+-]*)", stripped)
            if match:
                current = {"fence": match.group(1), "lang": match.group(2),
                           "line": number, "lines": [],
                           "skip": previous == SKIP_MARK}
            elif stripped:
                previous = stripped
        elif stripped == current["fence"]:
            blocks.append({"lang": current["lang"], "line": current["line"],
                           "skip": current["skip"],
                           "code": "\n".join(current["lines"]) + "\n"})
            current, previous = None, ""
        else:
            current["lines"].append(line)
    return blocks


def shell_commands(code):
    """Command lines of a shell block that start with `tfllm ` or
    `python scripts/` (continuation lines joined, `$ ` prompts dropped),
    each as an argv list without comments."""
    commands, pending = [], ""
    for line in code.splitlines():
        line = line.rstrip()
        if line.startswith("$ "):
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        line = line.strip()
        if line.startswith("tfllm ") or line.startswith("python scripts/"):
            commands.append(shlex.split(line, comments=True))
    return commands


# ---------------------------------------------------------------------------
# Static checks (fast, no TensorFlow)

def test_code_block_extraction_honours_skip_marks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n<!-- test: skip -->\n```bash\nmake setup\n```\n\n"
        "```bash\ntfllm train ner --epochs 3 \\\n    --run-name x  # comment\n"
        "pip install foo\n```\n\n```python\nprint(1)\n```\n")
    blocks = code_blocks(page)
    assert [(b["lang"], b["skip"], b["line"]) for b in blocks] == [
        ("bash", True, 4), ("bash", False, 8), ("python", False, 14)]
    assert shell_commands(blocks[1]["code"]) == [
        ["tfllm", "train", "ner", "--epochs", "3", "--run-name", "x"]]


def user_doc_files():
    return [ROOT / "README.md"] + sorted(DOCS.rglob("*.md"))


def test_user_docs_name_no_internal_case_ids_or_issue_numbers():
    pattern = re.compile(r"\bBR-\d+|\bA-\d\b|\b[Ii]ssue \d+|[Oo]utside case")
    found = []
    for path in user_doc_files():
        for number, line in enumerate(path.read_text(encoding="utf-8")
                                      .splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line}")
    assert not found, "\n".join(found)


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, len(lines)


def test_every_nav_page_exists():
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = re.findall(r":\s+([\w/.-]+\.md)\s*$", text, flags=re.M)
    assert "getting-started.md" in pages and "python-api.md" in pages
    generated = {"reference/cli.md"}  # docs/hooks/cli_reference.py
    missing = [p for p in pages if p not in generated
               and not (DOCS / p).is_file()]
    assert not missing, missing


def test_api_reference_lists_every_public_name():
    """Every name `import tfllm` exposes (its `_PUBLIC` map) is on the API
    reference's `tfllm` page, with a mkdocstrings entry for its module."""
    import tfllm

    page = (DOCS / "reference" / "api" / "tfllm.md").read_text(encoding="utf-8")
    reference = "\n".join(p.read_text(encoding="utf-8")
                          for p in (DOCS / "reference" / "api").glob("*.md"))
    missing = []
    for name, target in tfllm._PUBLIC.items():
        module, attribute = target.split(":")
        if f"`tfllm.{name}`" not in page:
            missing.append(f"tfllm.{name} not on reference/api/tfllm.md")
        if (f"::: {module}.{attribute}" not in reference
                and f"::: {module}\n" not in reference):
            missing.append(f"no '::: {module}.{attribute}' in reference/api/")
    assert not missing, missing


# ---------------------------------------------------------------------------
# The site builds (strict: broken links, anchors or API pages fail)

def test_mkdocs_build_strict(tmp_path):
    if os.environ.get("TFLLM_CI_BUILDS_DOCS") == "1":
        pytest.skip(".ci/run builds the site itself (strict) after the tests")
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
         str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    cli_page = (tmp_path / "site" / "reference" / "cli" / "index.html")
    html = cli_page.read_text(encoding="utf-8")
    for command in ("tfllm train ner", "tfllm predict ner", "tfllm export",
                    "tfllm generate"):
        assert command in html, command


def test_cli_reference_lists_every_command_with_the_glossary_flags():
    """Waits for the merge of the `tfllm` dispatcher and the flag glossary:
    `--max-train-examples` is the NER flag's new name."""
    sys.path.insert(0, str(DOCS / "hooks"))
    try:
        cli_reference = importlib.import_module("cli_reference")
    finally:
        sys.path.remove(str(DOCS / "hooks"))
    sections = dict(cli_reference.cli_help_sections())
    for words in [("train", "ner"), ("train", "classifier"),
                  ("predict", "ner"), ("export",), ("generate",)]:
        assert words in sections, words
        assert sections[words].startswith("usage: tfllm " + " ".join(words))
    assert "--backbone" in sections[("train", "ner")]
    assert "--max-train-examples" in sections[("train", "ner")]
    assert "--config" in sections[("train", "ner")]


# ---------------------------------------------------------------------------
# The getting-started and Python API pages run on tiny models

CONLL_TRAIN = [
    ("EU rejects German call to boycott British lamb .".split(),
     ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]),
    ("Peter Blackburn visited Lyon .".split(),
     ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    ("Yesterday the board of Zorbex met investors from Porto .".split(),
     ["O", "O", "O", "O", "B-ORG", "O", "O", "O", "B-LOC", "O"]),
]


@pytest.fixture(scope="module")
def tiny_backbone_folder(tmp_path_factory):
    """A tiny BERT preset (backbone + tokenizer), long enough for the
    default `--max-length` 128."""
    from tiny import tiny_backbone
    from tiny import tiny_tokenizer

    folder = tmp_path_factory.mktemp("tiny_minilm")
    tiny_backbone(max_sequence_length=512).save_to_preset(str(folder))
    tiny_tokenizer().save_to_preset(str(folder))
    return folder


@pytest.fixture
def doc_workdir(tmp_path, monkeypatch):
    """A working folder with tiny CoNLL-2003 files; TFLLM_DATA_DIR points
    at them too."""
    from tiny import write_conll

    for folder in (tmp_path / "data" / "conll2003", tmp_path / "conll2003"):
        folder.mkdir(parents=True)
        write_conll(folder / "train.txt", CONLL_TRAIN * 3)
        write_conll(folder / "valid.txt", CONLL_TRAIN[:2])
    monkeypatch.setenv("TFLLM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tiny_python(code, backbone):
    code = re.sub(r"""(["'])minilm\1""", repr(str(backbone)), code)
    return re.sub(r"\bepochs=\d+", "epochs=1", code)


def tiny_argv(argv, backbone):
    argv = [str(backbone) if a == "minilm" else a for a in argv]
    for i, a in enumerate(argv[:-1]):
        if a == "--epochs":
            argv[i + 1] = "1"
    if argv[1:2] == ["train"] or "train_" in argv[1]:
        if "--backbone" not in argv:
            argv += ["--backbone", str(backbone)]
        argv += ["--batch-size", "2"]
    return argv


def run_command(argv):
    """Runs a documented command in this process (TensorFlow is imported
    once): `tfllm ...` through the dispatcher, `python scripts/x.py ...`
    through `tfllm.cli.x.main`."""
    if argv[0] == "tfllm":
        from tfllm.cli.main import main  # the `tfllm` dispatcher

        return main(argv[1:])
    script = pathlib.Path(argv[1]).stem
    module = importlib.import_module(f"tfllm.cli.{script}")
    return module.main(argv[2:])


@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_page_code_runs_on_tiny_models(page, tiny_backbone_folder,
                                       doc_workdir):
    # doc_workdir: the working folder (chdir) with the tiny data
    """Waits for the merge of the Python API (`TokenClassifier.
    from_pretrained`, `fit`, `evaluate`, `predict`, `save`, `load`,
    `export`; `TextClassifier` the same) and the `tfllm` command."""
    blocks = [b for b in code_blocks(DOCS / page) if not b["skip"]]
    assert blocks, f"{page}: no code to run"
    namespace = {"__name__": "__docs__"}
    for block in blocks:
        where = f"{page}:{block['line']}"
        if block["lang"] == "python":
            code = tiny_python(block["code"], tiny_backbone_folder)
            exec(compile(code, where, "exec"), namespace)  # noqa: S102
        elif block["lang"] in SHELL_LANGS:
            for argv in shell_commands(block["code"]):
                try:
                    run_command(tiny_argv(argv, tiny_backbone_folder))
                except SystemExit as e:
                    assert e.code in (0, None), f"{where}: {argv}: exit {e.code}"
