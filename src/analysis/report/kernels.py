"""The kernels that run the report notebooks: this environment's Python, one per worker.

:func:`execute` runs one notebook with papermill, in a kernel of a :class:`KernelPool` (reused
by a worker for its reports) or in a fresh kernel.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_NAME", "KernelPool", "kernel_manager_class", "execute"]

KERNEL_NAME = "python3"


@functools.lru_cache(maxsize=1)
def kernel_manager_class() -> type:
    """A kernel manager that always starts the ``python3`` kernel of *this* environment.

    jupyter_client would take a ``python3`` kernelspec from the user's Jupyter folders first,
    which may point at another Python; this one builds ipykernel's native spec (this
    interpreter). The kernel's own terminal log is silenced: ipykernel warns on every start that
    it runs over TCP without encryption (it listens on localhost) and logs the interrupt
    jupyter_client sends at shutdown; what a notebook prints or raises is in its outputs.
    """
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class CurrentEnvKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:
            if self._kernel_spec is None:
                spec = get_kernel_dict(extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
                # Figures must be inlined into the report whatever MPLBACKEND the caller has
                # (e.g. Agg in a headless job would silently drop every plot).
                env = dict(spec.pop("env", {}) or {})
                env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
                self._kernel_spec = KernelSpec(resource_dir=RESOURCES, env=env, **spec)
            return self._kernel_spec

    return CurrentEnvKernelManager


class KernelPool:
    """One kernel per worker thread, reused for that worker's reports.

    A fresh kernel per report re-imports the package and its libraries (about 3 s of a
    4-13 s report); a reused kernel starts each report with its namespace cleared
    (``%reset -f``: no variable of the previous report survives) and figures closed, with the
    modules already imported. Every notebook sets its own language, style and seeds in its
    first cells. A report that fails or times out takes its kernel with it: the worker's next
    report starts a new one, so a broken kernel never runs another report.
    """

    def __init__(self) -> None:
        import threading

        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    def get(self, cwd: Path):
        """The calling thread's kernel manager, started in ``cwd``, namespace cleared."""
        from jupyter_client.utils import run_sync

        km = getattr(self._local, "km", None)
        if km is not None and (getattr(self._local, "cwd", None) != str(cwd)
                               or not run_sync(km.is_alive)()):
            self.discard()
            km = None
        if km is None:
            km = kernel_manager_class()()
            run_sync(km.start_kernel)(cwd=str(cwd))
            self._local.km, self._local.cwd = km, str(cwd)
            with self._lock:
                self._all.append(km)
            return km
        kc = km.client()
        kc.start_channels()
        try:
            run_sync(kc.wait_for_ready)(timeout=60)
            reply = run_sync(kc.execute_interactive)(
                "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt",
                store_history=False, timeout=60, output_hook=lambda msg: None)
            ok = reply["content"].get("status") == "ok"
        finally:
            kc.stop_channels()
        if not ok:  # could not clear the namespace: never run a report in it
            self.discard()
            return self.get(cwd)
        return km

    def discard(self) -> None:
        """Shut down the calling thread's kernel (after a failure)."""
        km = getattr(self._local, "km", None)
        self._local.km = None
        if km is not None:
            self._shutdown(km)

    def _shutdown(self, km) -> None:
        from jupyter_client.utils import run_sync

        with self._lock:
            if km in self._all:
                self._all.remove(km)
        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)

    def close(self) -> None:
        """Shut down every kernel of the pool."""
        with self._lock:
            kms = list(self._all)
        for km in kms:
            self._shutdown(km)


def _renumber(nb: Any) -> Any:
    """Execution counts from 1, as in a fresh kernel (a reused kernel keeps counting)."""
    count = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell["execution_count"] = count
        for out in cell.get("outputs", []):
            if "execution_count" in out:
                out["execution_count"] = count
    return nb


def execute(job, output_path: Path, *, cwd: Path, cell_timeout: int | None,
            pool: KernelPool | None = None) -> Any:
    """Run the notebook with papermill into ``output_path`` (saved after every cell), in a
    kernel of ``pool`` when given (else a fresh kernel)."""
    import papermill as pm

    kwargs: dict[str, Any] = {}
    if pool is not None:
        kwargs["km"] = pool.get(cwd)
    try:
        nb = pm.execute_notebook(
            str(job.path),
            str(output_path),
            parameters=job.parameters,
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            log_output=False,
            execution_timeout=cell_timeout,
            # the kernel's working folder; papermill's own cwd= would os.chdir the process
            resources={"metadata": {"path": str(cwd)}},
            kernel_manager_class=kernel_manager_class(),
            # outputs are all in by then; a graceful kernel shutdown costs ~0.5 s per report
            shutdown_kernel="immediate",
            **kwargs,
        )
    except BaseException:
        if pool is not None:
            pool.discard()
        raise
    return _renumber(nb) if pool is not None else nb
