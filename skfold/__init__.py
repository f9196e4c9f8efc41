"""skfold: grow neural networks by folding on typical instances, the scikit-learn way."""

from ._estimators import FoldGrowClassifier, FoldGrowRegressor
from .explain_pipeline import explain_pipeline_unit
from .persistence import load, save

__version__ = "0.2.0"

__all__ = ["FoldGrowClassifier", "FoldGrowRegressor", "explain_pipeline_unit", "load", "save",
           "__version__"]
