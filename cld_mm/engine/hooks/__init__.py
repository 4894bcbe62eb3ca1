from ..step_options import ChannelsLastHook
from .bank_size_check import BankSizeCheckHook
from .checkpoint_check import CheckpointCheckHook
from .nonfinite_loss import NonFiniteLossHook
from .resume_validation import ResumeValidationHook
from .rng_state import RNGStateHook
from .smog_recluster import SMoGReclusterHook
from .train_data_check import TrainDataCheckHook

__all__ = ['BankSizeCheckHook', 'CheckpointCheckHook', 'NonFiniteLossHook',
           'ResumeValidationHook', 'RNGStateHook', 'TrainDataCheckHook',
           'SMoGReclusterHook', 'ChannelsLastHook']
