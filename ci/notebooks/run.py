"""Running a notebook top to bottom in a fresh kernel (nbclient), its parameters injected as papermill does.

The run works on a copy: the notebook in the repository keeps no outputs; the
executed copy is written to the report folder for a look at what it showed.
"""

from __future__ import annotations

import copy
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci.core import files, settings
from ci.core.errors import EnvError
from ci.core.results import Check, Status, group
from ci.core.text import first_line, plain
from ci.notebooks import NOTEBOOKS_EXTRA

if TYPE_CHECKING:
    from ci.notebooks.check import Notebook

TRACEBACK_LINES = 6  # the last lines of a failing cell's traceback, in the report


def execute(notebook: Notebook, cfg: settings.Notebooks, *, out: Path) -> Check:
    """Run the notebook; a failing or hanging cell fails the check, naming the cell."""
    try:
        import nbformat
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError:
        raise EnvError(f"nbclient is not installed; install it with `{NOTEBOOKS_EXTRA}`") from None
    node, injected = inject(copy.deepcopy(notebook.node), cfg.parameters)
    kernel = cfg.kernel or node.metadata.get("kernelspec", {}).get("name") or "python3"
    folder = {"metadata": {"path": str(notebook.path.parent)}}  # the kernel starts beside the notebook
    client = NotebookClient(node, timeout=cfg.timeout, kernel_name=kernel, resources=folder)
    common = {"group": group("notebooks", "run"), "file": notebook.shown}
    name, started, index = f"run {notebook.shown}", time.perf_counter(), 0
    try:
        # The kernel's own stderr (ipykernel's notes on its transport) would land among dsci's output.
        with client.setup_kernel(stderr=subprocess.DEVNULL):
            for index, cell in enumerate(node.cells):
                client.execute_cell(cell, index)
    except NoSuchKernel:
        raise EnvError(
            f"{notebook.shown}: kernel {kernel!r} is not installed; install it, or set ci.notebooks.kernel"
        ) from None
    except RuntimeError as error:  # jupyter_client: the kernel started but never answered
        raise EnvError(f"{notebook.shown}: kernel {kernel!r} did not start: {first_line(error)}") from None
    except CellTimeoutError:
        cell = _committed(index, injected)
        message = f"cell {cell} ran longer than {cfg.timeout} s (ci.notebooks.timeout): stopped"
        return Check(name, Status.FAILED, message, details={"cell": cell}, **common)
    except DeadKernelError as error:
        message = f"the kernel died in cell {_committed(index, injected)}: {first_line(error)}"
        return Check(name, Status.FAILED, message, **common)
    except CellExecutionError as error:
        cell = _committed(index, injected)
        lines = [line for line in plain(str(error)).strip().splitlines() if line.strip()]
        message = f"cell {cell} failed: {lines[-1] if lines else 'an error'}"
        output = "\n".join(lines[-TRACEBACK_LINES:])
        return Check(name, Status.FAILED, message, output=output, details={"cell": cell}, **common)
    finally:
        written = out / notebook.path.name
        files.write_text(written, nbformat.writes(node))
    seconds = time.perf_counter() - started
    message = f"ran {len(notebook.node.cells)} cells in {seconds:.1f} s ({kernel}); outputs in {written.name}"
    return Check(name, Status.PASSED, message, details={"seconds": seconds, "kernel": kernel}, **common)


def inject(node: Any, parameters: dict[str, Any]) -> tuple[Any, int | None]:
    """A cell setting ``parameters`` after the cell tagged ``parameters`` (first, when none is), tagged
    ``injected-parameters``: papermill's convention, so the notebook runs the same under either. Returns
    the notebook and where the cell went (None: no parameters)."""
    if not parameters:
        return node, None
    import nbformat

    source = "# Parameters\n" + "".join(f"{key} = {value!r}\n" for key, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    tagged = [i for i, c in enumerate(node.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    at = tagged[0] + 1 if tagged else 0
    node.cells.insert(at, cell)
    return node, at


def _committed(index: int, injected: int | None) -> int:
    """The 1-based number, in the notebook as committed, of the cell at ``index`` of the run's copy."""
    return index + 1 - (injected is not None and index > injected)
