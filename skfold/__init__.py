"""skfold: grow neural networks by folding on typical instances, the scikit-learn way."""

from ._estimators import FoldGrowClassifier, FoldGrowRegressor
from .persistence import load, save

__version__ = "0.2.0"

__all__ = ["FoldGrowClassifier", "FoldGrowRegressor", "load", "save", "__version__"]
