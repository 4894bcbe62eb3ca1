"""Capture and restore every random number generator a training step uses."""
import random
from typing import Any, Dict

import numpy as np
import torch


def get_rng_states() -> Dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` (a uint8 tensor) and
        ``cuda`` (one uint8 tensor per device; empty without CUDA).
    """
    return dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available()
        else [])


def set_rng_states(states: Dict[str, Any]) -> None:
    """Restore states returned by :func:`get_rng_states`.

    Raises:
        KeyError: a generator's state is missing.
    """
    missing = {'python', 'numpy', 'torch'} - set(states)
    if missing:
        raise KeyError(f'RNG states lack {sorted(missing)}')
    random.setstate(_as_python_state(states['python']))
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if states.get('cuda') and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


def _as_python_state(state):
    # a checkpoint round trip may turn the inner tuple into a list
    version, internal, gauss = state
    return version, tuple(internal), gauss
