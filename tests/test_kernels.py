"""One notebook through papermill, with real kernels: a port clash at start is retried, a cell that ran is never run twice, the wall limit."""

from __future__ import annotations

import socket
import sys

import nbformat
import pytest

from runbook_lib.batch import kernels
from runbook_lib.batch.kernels import KernelStartFailed, NotebookTimeout, run_notebook

pytestmark = pytest.mark.kernel


def _notebook(path, *cells: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def taken_port():
    """A TCP port on 127.0.0.1 that something else holds."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder.getsockname()[1]
    holder.close()


def _first_kernels_get(port: int, times: int, monkeypatch):
    """The next ``times`` kernels are handed ``port`` as their shell port, as a race with another process would."""
    from jupyter_client.localinterfaces import localhost  # noqa: F401  (jupyter_client's port cache lives beside it)
    from jupyter_client.provisioning.local_provisioner import LocalPortCache

    original = LocalPortCache.find_available_port
    handed = {"n": 0}

    def find(self, ip):
        found = original(self, ip)
        if handed["n"] < times * 5:   # each kernel asks for five ports; the first of each five is the shell port
            handed["n"] += 1
            if handed["n"] % 5 == 1:
                return port
        return found
    monkeypatch.setattr(LocalPortCache, "find_available_port", find)


def test_a_kernel_that_cannot_bind_its_port_is_replaced_and_the_notebook_runs_once(tmp_path, taken_port, monkeypatch):
    _first_kernels_get(taken_port, 1, monkeypatch)
    counter = tmp_path / "runs.txt"
    source = _notebook(tmp_path / "once.ipynb", f"open({str(counter)!r}, 'a').write('ran\\n')")
    lines: list[str] = []
    run_notebook(source, tmp_path / "out.ipynb", {}, str(tmp_path), report=lines.append)
    assert counter.read_text() == "ran\n"   # the cell ran exactly once, in the second kernel
    assert lines == ["kernel for once could not bind its ports (Address already in use); starting another"]


def test_a_port_clash_every_time_ends_with_a_clear_error(tmp_path, taken_port, monkeypatch):
    _first_kernels_get(taken_port, kernels.START_ATTEMPTS, monkeypatch)
    source = _notebook(tmp_path / "never.ipynb", "1")
    with pytest.raises(KernelStartFailed, match="could not bind its ports .Address already in use. in 3 attempts"):
        run_notebook(source, tmp_path / "out.ipynb", {}, str(tmp_path), report=lambda _l: None)


def test_a_cell_that_fails_with_the_same_words_is_not_run_again(tmp_path):
    """Hostile: 'Address already in use' from a cell that ran is that cell's failure, not a kernel start."""
    counter = tmp_path / "runs.txt"
    source = _notebook(tmp_path / "binds.ipynb",
                       f"open({str(counter)!r}, 'a').write('ran\\n')\n"
                       "import os; os.write(2, b'OSError: [Errno 98] Address already in use\\n')   # the kernel's own stderr\n"
                       "raise OSError(98, 'Address already in use')")
    with pytest.raises(Exception, match="Address already in use") as caught:
        run_notebook(source, tmp_path / "out.ipynb", {}, str(tmp_path))
    assert not isinstance(caught.value, KernelStartFailed)
    assert counter.read_text() == "ran\n"


def test_a_notebook_past_its_wall_limit_is_interrupted_and_reported(tmp_path):
    source = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(120)")
    # the runbook's own limit, not papermill's cell timeout (68 s), ended it: its message, and the cell's interrupt
    with pytest.raises(NotebookTimeout, match="ran longer than its limit of 8 s and was interrupted"):
        run_notebook(source, tmp_path / "out.ipynb", {}, str(tmp_path), timeout=8)   # past a slow kernel start
    executed = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    [cell] = [c for c in executed.cells if c.cell_type == "code"]
    assert "KeyboardInterrupt" in str(cell.outputs)


def test_the_kernel_gets_the_jobs_environment(tmp_path):
    out = tmp_path / "env.txt"
    source = _notebook(tmp_path / "env.ipynb", f"import os; open({str(out)!r}, 'w').write(os.environ['RUNBOOK_X'])")
    run_notebook(source, tmp_path / "out.ipynb", {}, str(tmp_path), env={"RUNBOOK_X": "from the job"})
    assert out.read_text() == "from the job"
    assert sys.executable  # the kernel is python3 of this environment
