"""A Runner whose environment log names the real device and backend."""
from collections import OrderedDict

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.utils.dl_utils import collect_env


class DeviceAwareRunner(Runner):
    """mmengine's Runner, with an environment log that tells the truth.

    mmengine's log always states a "GPU number" and the configured backend
    (NCCL in every mmpretrain config), also on a machine without CUDA. This
    one names the number of processes, the device the model runs on and the
    backend actually used (see :func:`cpu_env`), then the config as
    mmengine does unless ``log_config`` is False (an evaluation of a
    checkpoint, whose config is the user's file).
    """

    log_config = True

    def _log_env(self, env_cfg: dict) -> None:
        env = collect_env()
        runtime = OrderedDict(env_cfg)
        runtime.update(self._randomness_cfg)
        runtime['seed'] = self._seed
        runtime['launcher'] = self._launcher
        runtime['processes'] = self._world_size
        runtime['device'] = 'cuda' if torch.cuda.is_available() else 'cpu'
        lines = '\n    '.join(f'{k}: {v}' for k, v in env.items())
        rt = '\n    '.join(f'{k}: {v}' for k, v in runtime.items())
        self.logger.info(f"\n{'-' * 60}\nSystem environment:\n    {lines}\n"
                         f"\nRuntime environment:\n    {rt}\n{'-' * 60}\n")
        if self.log_config and self.cfg._cfg_dict:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')


def cpu_env(cfg: Config) -> Config:
    """gloo instead of NCCL where there is no CUDA (the log tells the truth).

    Changes ``cfg`` in place and returns it.
    """
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    return cfg
