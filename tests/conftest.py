"""Settings shared by the whole suite."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run the suite's small models on one thread.

    Tiny batches gain little from a second thread, and on two cores shared with other work
    (a JupyterLab kernel in the browser tests, a second process) two threads ran several
    times slower than one (measured: 249 s against 44 s for the attribution tests).
    ``rx.train`` uses at most torch's current thread count, so its runs here use one thread too.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
