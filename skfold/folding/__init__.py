"""Grow by folding: the slides' four algorithms and the baseline inits.

Pure functions of (network, data) -> decision; they hold no estimator state. The notation is
the slides': ``x_t`` is the typical mis-predicted instance, ``x_f`` its fold point. When a layer
``l > 0`` is grown, both live in that layer's input space ``h_l`` rather than in ``x``.

========================================  =====================================================
slides' algorithm                         here
========================================  =====================================================
1. find typical mis-predicted instance    :func:`find_typical_mispredicted_instance`
2. fold point search                      :func:`fold_point_search`
3. hidden layer broaden                   :func:`hidden_layer_broaden`
4. equivalent network deepening           :func:`equivalent_network_deepening`
baselines                                 :func:`gradmax_outgoing`, :func:`random_incoming`
========================================  =====================================================
"""

from .baselines import GRADMAX_RANK, gradmax_outgoing, random_incoming
from .broaden import (
                      FALLBACK_MARGIN,
                      REDUNDANT_FOLD,
                      THROUGH_INSTANCE,
                      adds_nothing,
                      hidden_layer_broaden,
                      incoming_scale,
                      input_gradient_incoming,
)
from .deepening import dead_units, equivalent_network_deepening
from .failures import SearchFailed
from .fold_point import FLAT_SEGMENT, boundary_equations, fold_point_search, nearest_point_on
from .incoming import (
                      FOLD_CONE_DEGREES,
                      FRESH_UNIT_NORM,
                      NEARLY_LINEAR_SHARE,
                      fold_incoming,
                      gradmax_objective,
)
from .instances import (
                      SearchSignals,
                      candidate_rows, margin_rows,
                      find_typical_mispredicted_instance,
                      search_signals,
                      search_subsample,
                      typical_instances,
)
from .outgoing import line_search_outgoing
from .settings import (
                       FOLD_POINTS,
                       INITS,
                       INSTANCE_SELECTIONS,
                       OUTGOING_WEIGHTS,
                       GrowthSettings,
)

__all__ = [
    "find_typical_mispredicted_instance", "fold_point_search", "hidden_layer_broaden",
    "equivalent_network_deepening", "gradmax_outgoing", "random_incoming", "typical_instances",
    "search_signals", "search_subsample", "candidate_rows", "margin_rows", "SearchSignals",
    "boundary_equations",
    "nearest_point_on", "fold_incoming", "gradmax_objective", "incoming_scale", "adds_nothing",
    "input_gradient_incoming", "dead_units", "GrowthSettings", "INITS", "INSTANCE_SELECTIONS",
    "FOLD_POINTS", "OUTGOING_WEIGHTS", "line_search_outgoing", "FLAT_SEGMENT", "REDUNDANT_FOLD",
    "THROUGH_INSTANCE", "FALLBACK_MARGIN",
    "FOLD_CONE_DEGREES", "FRESH_UNIT_NORM", "NEARLY_LINEAR_SHARE", "GRADMAX_RANK",
    "SearchFailed",
]
