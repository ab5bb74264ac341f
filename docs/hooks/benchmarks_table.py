"""MkDocs hook: replaces `<!-- results.json -->` in a page with a table of
`benchmarks/results.json` (one headline figure per key: value, unit,
command, machine, date, commit), so the current-figures page cannot drift
from the file the benchmark scripts write."""

import json
import pathlib

MARKER = "<!-- results.json -->"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(path):
    """Markdown table of the results file at `path`."""
    results = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    rows = ["| figure | value | what it measures | command | machine | date (commit) |",
            "|---|---|---|---|---|---|"]
    for key in sorted(results):
        r = results[key]
        rows.append("| " + " | ".join([
            f"`{key}`", f"**{r.get('value')}**", _cell(r.get("unit", "")),
            f"`{_cell(r.get('command', ''))}`", _cell(r.get("machine", "")),
            f"{r.get('date', '')} ({r.get('commit', '')})",
        ]) + " |")
    return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    root = pathlib.Path(config["config_file_path"]).parent
    return markdown.replace(MARKER, render(root / "benchmarks" / "results.json"))
