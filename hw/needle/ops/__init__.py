from .ops_logarithmic import *  # noqa: F403
from .ops_mathematic import *  # noqa: F403
from .ops_tuple import *  # noqa: F403
