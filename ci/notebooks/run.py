"""Running a notebook top to bottom in a fresh kernel (nbclient), its parameters injected as papermill does.

The run works on a copy: the notebook in the repository keeps no outputs; the
executed copy is written under the report folder for a look at what it showed.
"""

from __future__ import annotations

import contextlib
import copy
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci.core import files, imports, secrets, settings
from ci.core.errors import EnvError
from ci.core.results import Check, Status, group
from ci.core.text import first_line, plain
from ci.notebooks import NOTEBOOKS_EXTRA

if TYPE_CHECKING:
    from ci.notebooks.check import Notebook

TRACEBACK_LINES = 6  # the last lines of a failing cell's traceback, in the report


def execute(notebook: Notebook, cfg: settings.Notebooks, *, out: Path) -> Check:
    """Run the notebook within ``cfg.timeout`` seconds in all; a failing cell, or the cell running when the
    time is up, fails the check and is named."""
    imports.jsonschema()
    try:
        import nbformat
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError:
        raise EnvError(f"nbclient is not installed; install it with `{NOTEBOOKS_EXTRA}`") from None
    node, numbers = inject(copy.deepcopy(notebook.node), cfg.parameters)
    kernel = cfg.kernel or node.metadata.get("kernelspec", {}).get("name") or "python3"
    folder = {"metadata": {"path": str(notebook.path.parent)}}  # the kernel starts beside the notebook
    client = NotebookClient(node, timeout=cfg.timeout, kernel_name=kernel, resources=folder)
    common = {"group": group("notebooks", "run"), "file": notebook.shown}
    name, started, index = f"run {notebook.shown}", time.perf_counter(), 0
    overtime = f"ran longer than {cfg.timeout} s (ci.notebooks.timeout): stopped in"
    try:
        # The kernel's own stderr (ipykernel's notes on its transport) would land among dsci's output.
        with _kernel(client, notebook, kernel, NoSuchKernel, DeadKernelError):
            for index, cell in enumerate(node.cells):
                left = cfg.timeout - (time.perf_counter() - started)  # the limit is the whole notebook's
                if left <= 0:
                    raise CellTimeoutError(overtime)
                client.timeout = math.ceil(left)
                client.execute_cell(cell, index)
    except CellTimeoutError:
        cell = _cell(numbers, index)
        return Check(name, Status.FAILED, f"{overtime} {cell}", details={"cell": numbers[index]}, **common)
    except DeadKernelError as error:
        message = f"the kernel died in {_cell(numbers, index)}: {first_line(error)}"
        return Check(name, Status.FAILED, message, **common)
    except CellExecutionError as error:
        cell = _cell(numbers, index)
        lines = [line for line in plain(str(error)).strip().splitlines() if line.strip()]
        message = f"{cell} failed: {lines[-1] if lines else 'an error'}"
        output = "\n".join(lines[-TRACEBACK_LINES:])
        return Check(name, Status.FAILED, message, output=output, details={"cell": numbers[index]}, **common)
    finally:  # under the report folder, as the notebook is under the project (never outside the folder)
        inside = Path(notebook.shown)
        inside = inside if not inside.is_absolute() and ".." not in inside.parts else Path(inside.name)
        written = files.write_text(out / inside, secrets.mask(nbformat.writes(node)))  # outputs may print one
    seconds = time.perf_counter() - started
    message = f"ran {len(notebook.node.cells)} cells in {seconds:.1f} s ({kernel}); outputs in {written.name}"
    return Check(name, Status.PASSED, message, details={"seconds": seconds, "kernel": kernel}, **common)


@contextlib.contextmanager
def _kernel(client: Any, notebook: Notebook, kernel: str, missing: type, dead: type) -> Iterator[None]:
    """The client's kernel, started with its stderr silenced; a kernel that is missing or never answers is
    an environment error (exit 3), told apart from one that dies while a cell runs."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(client.setup_kernel(stderr=subprocess.DEVNULL))
        except missing:
            fix = "install it, or set ci.notebooks.kernel"
            raise EnvError(f"{notebook.shown}: kernel {kernel!r} is not installed; {fix}") from None
        except RuntimeError as error:  # jupyter_client: the kernel started but never answered
            if isinstance(error, dead):
                raise
            raise EnvError(
                f"{notebook.shown}: kernel {kernel!r} did not start: {first_line(error)}"
            ) from None
        yield


def inject(node: Any, parameters: dict[str, Any]) -> tuple[Any, list[int | None]]:
    """A cell setting ``parameters`` after the cell tagged ``parameters`` (first, when none is), tagged
    ``injected-parameters`` and replacing any such cell already there: papermill's convention, so the
    notebook runs the same under either. Returns the notebook and, for each of its cells, its number in
    the notebook as committed (None for the injected one)."""
    numbers: list[int | None] = list(range(1, len(node.cells) + 1))
    if not parameters:
        return node, numbers
    import nbformat

    def tagged(cell: Any, tag: str) -> bool:
        return tag in cell.get("metadata", {}).get("tags", [])

    source = "# Parameters\n" + "".join(f"{key} = {value!r}\n" for key, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    kept = [(c, n) for c, n in zip(node.cells, numbers, strict=True) if not tagged(c, "injected-parameters")]
    marked = [i for i, (c, _) in enumerate(kept) if tagged(c, "parameters")]
    kept.insert(marked[0] + 1 if marked else 0, (cell, None))
    node.cells = [c for c, _ in kept]
    return node, [n for _, n in kept]


def _cell(numbers: list[int | None], index: int) -> str:
    """How the report names the cell at ``index`` of the run's copy: by its number as committed."""
    number = numbers[index] if index < len(numbers) else None
    return f"cell {number}" if number else "the injected parameters cell"
