from . import algorithms, heads, losses, necks, utils  # noqa: F401
from . import data_preprocessors  # noqa: F401
