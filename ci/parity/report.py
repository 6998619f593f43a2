"""The comparison as Markdown for summary.md: environments side by side, library differences, worst rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def summary(details: Mapping[str, Any]) -> str:
    """The comparison as Markdown: environments side by side, library differences, the worst rows."""
    golden, tolerance = details["golden"], details["tolerance"]
    images = [details["image"], *details["matrix"]]

    def row(name: str, cells: Sequence[str], dev: str = "–") -> str:
        return f"| {name} | {dev} | " + " | ".join(cells) + " |"

    lines = [
        f"Golden set `{golden['path']}` ({golden['rows']} rows) scored by `{details['model']['path']}`; "
        f"tolerance rtol {tolerance['rtol']:g}, atol {tolerance['atol']:g}.",
        "",
        "| | development | " + " | ".join(f"`{i['image']}`" for i in images) + " |",
        "| --- | --- |" + " --- |" * len(images),
        row("Python", [i["python"] for i in images], details["development"]["python"]),
        row("platform", [i["platform"] for i in images], details["development"]["platform"]),
        row("label flips", [str(i["comparison"]["flips"]) for i in images]),
        row("rows outside tolerance", [str(i["comparison"]["outside"]) for i in images]),
        row("largest score difference", [f"{i['comparison']['max_abs']:.3g}" for i in images]),
        row("library differences", [str(len(i["libraries"]["differences"])) for i in images]),
        "",
        f"Recorded predictions ({details['recorded']['status']}): {details['recorded']['message']}.",
    ]
    for i in images:
        if i["libraries"]["differences"]:
            lines += ["", f"Libraries in `{i['image']}` that differ from development:", ""]
            lines += ["| package | development | image |", "| --- | --- | --- |"]
            for d in i["libraries"]["differences"]:
                lines.append(f"| {d['package']} | {d['development'] or 'not installed'} | {d['image']} |")
        if i["comparison"]["worst"]:
            lines += ["", f"Rows that differ most in `{i['image']}` (0-based):", ""]
            lines += ["| row | development | image | difference |", "| --- | --- | --- | --- |"]
            for w in i["comparison"]["worst"]:
                ours, theirs = _cell(w, "development"), _cell(w, "image")
                lines.append(f"| {w['row']} | {ours} | {theirs} | {w.get('difference', 0):.3g} |")
    return "\n".join(lines) + "\n"


def _cell(worst: Mapping[str, Any], side: str) -> str:
    """A label with the score that differs most (full precision, so the difference shows), or a value."""
    if "class" not in worst:
        return repr(worst[side])
    return f"{worst[side]} (p[{worst['class']}] = {worst[f'{side}_score']!r})"
