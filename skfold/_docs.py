"""The estimators' docstrings, written once: the sections both share, and how they are joined.

As skorch builds ``NeuralNetClassifier.__doc__`` from ``NeuralNet``'s, each estimator's
docstring is its own summary, the shared parameters, its own attributes and the shared ones.
"""

PARAMETERS = """
    Parameters
    ----------
    hidden_units : int or "auto", default="auto"
        Width of the single seed hidden layer. ``"auto"``: one unit per output (a classifier
        has one per class), at least 2 (the slides' "2-2-2" network for binary data) and at
        most ``max_hidden_units``; a seed narrower than the output layer is a rank
        bottleneck that growth must first undo. A wider seed reaches a given width in fewer
        training phases, so it fits faster (``benchmarks/results/speed.md``), and leaves
        growth less to decide. Where nothing is left to fold on (the linear seed, fitted on
        the training rows, mis-predicts a smaller share of them than one held-out row is:
        digits, breast_cancer) and ``alpha``, ``early_stopping`` and ``linear_seed`` are
        ``"auto"`` too, the seed is half of ``max_hidden_units`` (if wider), trained at the
        linear seed's penalty, and the held-out rows judge it against the linear model
        (``benchmarks/results/real_data_findings.md``). A network begun by ``partial_fit``
        starts from half of ``max_hidden_units`` too: a growth comes at most every other
        call, so a narrow seed spends the stream growing
        (``benchmarks/results/streams.md``).
    max_hidden_units : int, default=32
        Upper bound on the total number of hidden units over all layers; growth stops there.
    max_depth : int, default=1
        Maximum number of hidden layers. ``1`` is the slides' shallow network; above 1, an
        identity layer is inserted (function-preserving) when widening the deepest layer stopped
        paying for ``growth_patience`` growths, and is then widened by folding in its own input
        space. Deepening only happens when the identity layer fits within ``max_hidden_units``.
    growth_schedule : {"plateau", "fixed", "none"}, default="plateau"
        When to grow. ``"plateau"``: when the monitored loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (or L-BFGS converged), or after ``10 * n_iter_no_change``
        epochs of slow progress since the last growth; in ``partial_fit`` (one epoch per
        call, far from any plateau), also after a call that lowered the monitored loss by less
        than half the largest fall of a call since the last growth. ``"fixed"``: every
        ``grow_every``
        epochs (L-BFGS: iterations, or sooner when L-BFGS stops by itself) until
        ``max_hidden_units``, whatever the loss does: no plateau, patience or gain test
        applies, and the network does not deepen; a growth that finds nothing mis-predicted
        folds on the smallest-margin rows (``margin_fraction="auto"``), or, with
        ``margin_fraction=0`` or nothing to fold on there, is skipped, recorded, and the next
        one tried as scheduled. ``"none"``: never; a plain MLP
        of width ``hidden_units``.
    grow_every : int, default=50
        Epochs (L-BFGS: iterations) between growths with ``growth_schedule="fixed"``.
    units_per_growth : int, default=1
        Units added per growth step, each on its own typical instance: the worst cluster's,
        then the next worst cluster's, and so on (one k-means serves them all).
    growth_patience : int, default=2
        Growth stops (or the network deepens, see ``max_depth``) after this many growths in a
        row that did not pay (see ``min_growth_gain``); a growth that pays, however late in
        its training phase, lets growth go on.
    min_growth_gain : float, default=5.0
        A growth pays when, before the next one, the monitored loss falls by more than ``tol``
        and by more than ``min_growth_gain`` times the folded instance's own share of the
        training loss (its loss over the number of training rows): the unit must fix more
        than the row it was folded on. On noisy data this stops growth where new units would
        fit noise one row at a time. When every mis-predicted row carries so much loss that
        no growth on it could pay (the gain it needs exceeds the whole monitored loss), the
        growth is skipped, recorded, and growth stops. ``0`` leaves ``tol`` alone (its
        "growth gain" row in ``benchmarks/results/ablations.md``).
    init : {"fold", "fold_direction", "gradmax", "random"}, default="fold"
        How a new unit's weights are set. ``"fold"``: hyperplane through ``x_f``, direction
        ``x_t - x_f`` refined by projected gradient ascent on the gradient norm the unit's
        outgoing weights will receive (within a 75 degree cone); its incoming weights have the
        median norm of the layer's other units, or a fresh unit's (sqrt(2)) when it is active
        on more than 90% of the search rows. ``"fold_direction"``: the same without the
        ascent. ``"gradmax"``: Evci et al. (2022), zero incoming weights and outgoing weights
        along the top singular vectors of the back-propagated gradient, as many units as it
        has directions (one for a binary classifier or a one-output regressor; the rest are
        recorded as skipped). ``"random"``: He-scaled random incoming weights. All leave the
        network's function unchanged, and all grow when, and stop under the rule by which,
        the fold inits do: the typical mis-predicted instance decides whether a growth is made
        and what it must gain (``min_growth_gain``).
    instance_selection : {"kmeans", "max_loss", "random"}, default="kmeans"
        How ``x_t`` is picked among mis-predicted rows of the search subsample: the slides'
        loss-weighted k-means, the single worst row, or a random row.
    n_clusters : int, default=8
        Clusters of the loss-weighted k-means (clipped to the number of distinct rows).
    search_subsample : int, default=2000
        Rows drawn for the growth search; bounds its cost whatever the training set size.
        Also the bound of the reservoirs ``partial_fit`` keeps: a uniform sample of the rows
        of earlier calls, which a growth searches together with the call's chunk, and with
        ``early_stopping=True`` one of held-out rows (lowering it between calls shrinks them).
    fold_point : {"segment", "nearest"}, default="segment"
        ``"nearest"``: the slides' projection of ``x_t`` onto its segment's decision boundary
        (regression: onto the set where the segment predicts ``x_t``'s target).
        ``"segment"``: the nearest boundary point inside the closure of the segment's region (a
        small convex QP), falling back to the region's point nearest the projection when the
        boundary misses the region. Where there is no fold point (a flat segment, or ``x_t``
        already on the boundary), or where a unit through it would add nothing (its output
        on the searched rows a combination of the other units' and a constant: a fold point
        beyond the data of a layer already affine there, or on an existing unit's
        hyperplane), the unit's hyperplane is normal to the loss gradient at ``x_t`` and lies
        just behind it, and ``growth_history_`` records the fallback.
    margin_fraction : float or "auto", default="auto"
        Classification, when no searched row is mis-predicted: the typical instance is sought
        among this share of the rows whose true class is least ahead of the runner-up (their
        fold point is on the boundary between those two classes of their segment), so growth
        goes on where the network would err next. ``0``: growth stops once every training row
        is right, as the slides have it. ``"auto"``: ``0.1`` under
        ``growth_schedule="fixed"``, whose growths are due whatever the loss does (skipped,
        they would leave the network short of the width the schedule promises), and in
        ``grow``, where the user asked for a unit; ``0`` under
        the other schedules, where ``0.1`` did not win on the real-data suite
        (``benchmarks/results/real_data_findings.md``).
    outgoing_weights : {"zero", "line_search"}, default="zero"
        A new unit's outgoing weights. ``"zero"``: the unit joins without changing the
        network's function, as the slides have it. ``"line_search"``: along the loss gradient
        with respect to them, at the step (a power of 2 times the layer's mean outgoing-weight
        norm) that lowers the loss on the search rows most, as TINY scales its new units by an
        amplitude: the function changes by an improvement. With the linear seed, the seed
        units' outgoing weights are set the same way before training. On the real-data suite
        it did not win (``benchmarks/results/real_data_findings.md``).
    linear_seed : "auto" or bool, default="auto"
        Start from the linear model: a direct input-to-output connection ``S x`` (as in
        Cascade-Correlation), fitted alone on the training rows first (multinomial logistic
        regression at ``LogisticRegression``'s default penalty; ridge regression at the
        penalty ``RidgeCV`` picks), then fixed while the hidden units train and grow on its
        mistakes. The network starts as that linear model (the seed units' outgoing weights
        are zero), so its first activated segment is the linear fit. With held-out rows the
        fit keeps a network with hidden units only if its held-out loss beats the linear
        model's by more than one standard error of the row-wise difference (the
        one-standard-error rule); otherwise it returns the linear model, refitted on every
        row, and ``coefs_[-1]`` is zero. ``"auto"``: on where held-out rows judge the fit
        (``early_stopping``), since only they can tell whether the hidden units beat it.
        Takes effect when a new network is fitted (not on a warm start). The linear part is
        ``linear_coef_``. A linear fit that cannot take its first step (features far from
        unit scale, such as 1e12) warns to scale ``X``.
    solver : {"auto", "lbfgs", "adam", "sgd"}, default="auto"
        ``"auto"`` uses full-batch L-BFGS up to 100,000 training rows and Adam above
        (``partial_fit`` always uses Adam with ``"auto"``, after an L-BFGS ``fit`` too, from
        the fitted network with fresh moments). An L-BFGS run whose line search
        fails on a ReLU kink while the largest gradient entry is still above ``tol`` is moved
        off the kink by a few full-batch Adam steps and resumed.
    alpha : float or "auto", default="auto"
        L2 penalty, scaled as in ``MLPClassifier`` (``alpha/2 ||W||^2`` over the rows of the
        batch). ``"auto"``: ``1.0``, the penalty of ``LogisticRegression``'s ``C=1`` that the
        linear seed has, with full-batch L-BFGS on data too small to hold rows out (fewer
        than 20 held-out rows at ``validation_fraction``: below 200 rows by default), where
        nothing else keeps L-BFGS from fitting the training rows; ``1e-4``
        (``MLPClassifier``'s) elsewhere: there held-out rows judge the fit, and a stronger
        penalty starved the sharp folds of clean low-dimensional data (a 1-D sine: R²
        0.16-0.28 on two of four seeds), and Adam and SGD (``partial_fit`` included) divide
        the penalty by the batch's rows. ``1.0`` also where ``hidden_units="auto"`` finds
        nothing to fold on (see there). The value used is ``alpha_``
        (``benchmarks/results/real_data_findings.md``).
    batch_size : int or "auto", default="auto"
        Mini-batch size for Adam/SGD; ``"auto"`` is ``min(200, n_samples)`` as in
        ``MLPClassifier``, but ``n_samples // 1000`` above 200,000 rows: per-step overhead, not
        arithmetic, sets the epoch time of small batches (``benchmarks/results/speed.md``).
    learning_rate_init : float or "auto", default="auto"
        Step size of Adam/SGD. ``"auto"``: ``1e-3`` (``MLPClassifier``'s) in ``fit``, ``1e-2``
        in ``partial_fit``, where every call trains one epoch: over thirty calls on seven
        streams (``benchmarks/results/streams.md``) the larger step came within 1 point of
        ``MLPClassifier(100).partial_fit`` on seven where ``1e-3`` did on two. A ``fit``'s
        Adam or SGD optimizer, its step with it, goes on in the ``partial_fit`` calls after
        it (after an L-BFGS ``fit``, Adam starts at ``partial_fit``'s step). The value
        used is ``learning_rate_``.
    momentum : float, default=0.9
        Nesterov momentum of SGD.
    max_iter : int, default=1000
        Maximum epochs (Adam/SGD) or iterations (L-BFGS) over the whole fit, growth included.
        A fit that runs out of them while its monitored loss (held out under
        ``early_stopping``) still falls, by more than ``tol`` within the last
        ``n_iter_no_change`` epochs, warns (``ConvergenceWarning``) to raise ``max_iter``; if
        growth still paid, its width was set by the budget, not by the data (not said where
        fewer than 1,000 held-out rows chose the network: a larger budget then hurt as often as
        it helped). One whose monitored loss had stopped falling keeps the best network seen
        and does not warn: a larger ``max_iter`` seldom changes it
        (``benchmarks/results/max_iter_advice.md``).
        A fit gives at most one ``ConvergenceWarning``, worded alike in every fit.
    tol : float, default=1e-4
        Minimum improvement of the monitored loss that counts as progress: over
        ``n_iter_no_change`` epochs (else a plateau), and over a growth's training phase (else
        the growth did not pay, see ``growth_patience``). Under L-BFGS a largest gradient entry
        below ``tol`` also ends a phase, as in ``MLPClassifier``. A larger value (``1e-3``)
        ends training phases sooner; it did not grow fewer units, and cost 0.6 points over
        the ablations' data sets. A regressor fits its target standardised
        (``target_mean_``, ``target_scale_``), so neither its loss nor ``tol`` depends on the
        units of ``y``. Where no rows are held out and a classifier gets every training row
        right, the loss is so small that neither test sees the weight decay ``alpha`` still
        improving the weights: the last L-BFGS phase then trains ``3 * n_iter_no_change``
        iterations before they apply. A smaller ``tol`` trains on longer everywhere, which
        can cost time or accuracy (``benchmarks/results/issue5_findings.md``,
        ``ablations.md``).
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement that make a plateau (after a growth that found no
        mis-predicted row, with no rows held out, L-BFGS trains at least three times as
        many, see ``tol``).
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the data (stratified for a classifier) and judge
        the fit on it: its loss ends training phases, decides whether a growth paid and
        which network is kept. ``"auto"`` holds out rows when at least 20 would be held out
        (200 rows at the default fraction) and the data has fewer than 10,000 rows (the
        bound at which ``HistGradientBoosting*`` start holding rows out: here it is where they
        stop, since on more rows there was little to over-fit and held-out decisions ended
        growth early), except in ``partial_fit`` and under
        ``growth_schedule="fixed"``; the measurements that chose both bounds are in
        ``benchmarks/results/real_data_findings.md``.
        ``True`` in ``partial_fit``: ``validation_fraction`` of each chunk's rows is held out
        into a reservoir (at most ``search_subsample`` rows, a uniform sample of the rows held
        out so far), on which the monitored loss and ``validation_scores_`` are measured. A
        chunk of one row is held out whole with that probability (the stream's first always),
        and its call then trains nothing.
    validation_fraction : float, default=0.1
        Share of the training data held out when early stopping is on. A ``fit`` whose share
        is fewer than 2 rows is a ``ValueError``, as in ``MLPClassifier``.
    device : str, default="auto"
        Torch device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``... An unavailable device raises ``ValueError`` at ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batching, the growth search and the validation split.
        Only a local ``torch.Generator`` is used; global RNGs are never touched.
    verbose : int, default=0
        ``1`` prints one line per growth (epoch, loss, hidden units, the typical instance's row,
        the fold point's distance) and, when tqdm is installed and stderr is a terminal, shows
        a progress bar over epochs in ``fit``; ``2`` also prints the loss of every epoch, as
        ``MLPClassifier`` does.
    warm_start : bool, default=False
        Continue from the fitted (grown) network instead of starting afresh, with the
        parameters set now (a changed ``solver``, ``learning_rate_init``, ``alpha``, ``tol``...
        takes effect; the optimizer starts afresh, as in ``MLPClassifier``). The network
        keeps its units, so ``max_hidden_units`` must not fall below their number.
"""

ATTRIBUTES = """
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.
    hidden_units_ : int
        Width the seed hidden layer had (``hidden_units`` with ``"auto"`` resolved).
    hidden_layer_sizes_ : tuple of int
        Current widths of the hidden layers.
    solver_ : str
        The solver that trained the network (``solver`` with ``"auto"`` resolved).
    n_layers_ : int
        Hidden layers plus input and output.
    n_growths_ : int
        Growth events that changed the architecture during fitting, those whose units a
        return to an earlier, better network dropped included (``growth_history_``'s
        ``in_final_model`` says which units the model still has).
    growth_history_ : list of dict
        One record per unit added (or per deepening, or per skipped growth): ``growth``,
        ``epoch``, ``kind``, ``layer``, ``unit``, ``init``, ``instance_index`` (the typical
        instance's row of ``X``; in ``partial_fit``, its place in the stream: the rows of
        earlier calls counted first), ``x_t``,
        ``x_f`` (``h_t``/``h_f`` for deep layers), ``fold_distance``, ``predicted``, ``true``,
        ``cluster_size``, ``cluster_mean_loss``, ``loss_before``, ``loss_after`` (the best
        monitored loss of the training phase after the growth; with ``partial_fit``, the best
        so far while that phase goes on; ``loss_before`` is the monitored loss of the epoch
        before the growth), ``gain_needed`` (the fall of the loss by which the growth would
        pay, see ``min_growth_gain``), ``paid`` (whether it did: the schedule's decision, None
        until the next growth or the end of the fit), ``fallback``, ``skipped``, ``dead_units``
        (``{layer: [unit, ...]}`` of the units that none of at most ``search_subsample`` rows,
        spread evenly over the training data, activates after the growth),
        ``search_seconds``, ``in_final_model``. Readable as a ``pandas.DataFrame``.
        ``fallback`` is None or the steps taken instead of the fold recipe, joined by ``"+"``:
        ``"boundary_outside_segment"`` (the region's point nearest the boundary),
        ``"flat_segment"``, ``"instance_on_boundary"``, ``"redundant_fold"`` (see
        ``fold_point``), ``"qp_inexact"`` or ``"qp_failed"`` (the fold point search's QP).
    loss_ : float
        Training loss of the last epoch, L2 penalty included.
    alpha_ : float
        The L2 penalty the last fit trained with (``alpha`` with ``"auto"`` resolved).
    learning_rate_ : float or None
        The step size of Adam/SGD (``learning_rate_init`` with ``"auto"`` resolved, lowered
        if training diverged); None under L-BFGS, which takes no fixed step.
    loss_curve_ : list of float
        Training loss at each epoch (L-BFGS: iteration).
    best_loss_ : float or None
        Minimum training loss; None with ``early_stopping``.
    best_validation_score_ : float or None
        The highest of ``validation_scores_`` (NaN ones, as R² on one held-out row of a
        stream's first chunk, left out while a defined one exists); None without
        ``early_stopping``.
    n_iter_ : int
        Epochs (iterations) run.
    t_ : int
        Training samples seen by the stochastic solvers.
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape ``(n_in, n_out)`` of layer ``i``.
    intercepts_ : list of ndarray
    device_ : str
        Torch device used by the last fit.
    fit_time_ : dict
        Seconds spent in ``"training"`` and in ``"growth"`` (search and init)."""

REFERENCES = """
    References
    ----------
    J. Kang, "Growing Networks by Folding on Typical Instances" (slides, 1 November 2024);
    the algorithms as skfold reads them: the :mod:`skfold.folding` package's docstrings.

    U. Evci, B. van Merrienboer, T. Unterthiner, M. Vladymyrov, F. Pedregosa, "GradMax:
    Growing Neural Networks using Gradient Information", ICLR 2022 (``init="gradmax"``).
"""


CLASS_WEIGHT = """
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in ``LogisticRegression``: ``{label: weight}`` (classes
        not named weigh 1; each weight finite and non-negative), ``"balanced"``
        (``n_samples / (n_classes * np.bincount(y))``, as
        ``sklearn.utils.class_weight.compute_sample_weight`` gives) or None (all 1). A row's
        weight is its class's times its ``sample_weight``: it weighs the loss, the
        typical-instance search and the growth decisions alike. ``"balanced"`` is not
        supported by ``partial_fit``, whose chunks do not show the class frequencies.
"""


def estimator_doc(summary, attributes, see_also, examples, extra_parameters=""):
    """A docstring: ``summary``, the shared parameters (then ``extra_parameters``),
    ``attributes`` then the shared ones, ``see_also``, the references and ``examples`` (each
    an indented numpydoc block)."""
    return (summary.rstrip() + "\n" + PARAMETERS.rstrip("\n") + "\n"
            + extra_parameters.strip("\n") + "\n" + "\n    Attributes\n    ----------\n"
            + attributes.strip("\n") + "\n" + ATTRIBUTES + "\n\n" + see_also.strip("\n") + "\n"
            + REFERENCES + "\n" + examples.strip("\n") + "\n    ")


EXPLAIN_UNIT = """Why hidden unit ``unit`` of ``layer`` exists: the mistake it was grown to fix,
        and the features that move its hyperplane most.

        Parameters
        ----------
        unit : int
            Index of the unit within its layer, as in ``coefs_[layer][:, unit]``.
        layer : int, default=0
            Hidden layer, 0 being the first.
        X : array-like of shape (n_samples, n_features), default=None
            Rows in the estimator's input space (after a pipeline's preprocessing). When given,
            the explanation also says on how many of them the unit is active: a unit active
            on none of the training rows outputs 0 on all of them (a dead unit), whatever it
            was grown for, and gets no gradient.

        Returns
        -------
        explanation : dict
            ``origin``: ``"seed"`` (one of the ``hidden_units`` the network started with),
            ``"deepen"`` (an identity unit of a layer inserted by deepening) or ``"growth"``;
            ``summary``: sentences saying why the unit exists and naming the three features
            that move its hyperplane most. A grown unit's dict also holds its
            ``growth_history_`` record (``epoch``, ``init``, ``instance_index``, ``x_t``,
            ``x_f``, ``predicted``, ``true``, ``fold_distance``, ``loss_before``,
            ``loss_after``, ``gain_needed``, ``fallback``...), ``loss_change = loss_after -
            loss_before``: how the monitored loss moved over the training phase that followed
            its growth, and ``paid``: whether it fell by more than ``gain_needed`` (None while
            that phase runs in ``fit``; so far, between ``partial_fit`` calls). Every unit's
            dict holds:

            - ``feature_names``: the unit's inputs, named by ``feature_names_in_`` (or
              ``x0..x{n-1}`` when fitted on an array, as ``get_feature_names_out`` names
              them); for ``layer > 0``, ``h0..h{n-1}``, the units of the layer below.
            - ``weights``: its incoming weights now, ``coefs_[layer][:, unit]``.
            - ``table``: one row per input, ``feature``, ``x_t``, ``x_f`` (``h_t``, ``h_f``
              for ``layer > 0``: the points in the layer's input space; NaN for a unit that
              has none), ``move = x_f - x_t`` and ``weight``, ranked by ``|weight|``, largest
              first. A ``pandas.DataFrame`` when pandas is installed, else a list of dicts
              (one per row) with the same keys.
            - ``top_features``: the names of the first three rows.
            - ``space``: where the values live: ``"estimator"`` (the input ``fit`` saw) or
              ``"hidden"`` (``layer > 0``). :func:`skfold.explain_pipeline_unit` gives them
              in a pipeline's original units.

            With ``X``: ``n_active`` and ``active_fraction``, the number and the share of the
            rows of ``X`` where the unit's pre-activation is positive.

        Notes
        -----
        The unit's hyperplane is ``{x : w . x + c = 0}`` (``w = weights``). Moving feature
        ``j`` by ``d`` changes the pre-activation by ``w_j d`` and so moves the point by
        ``|w_j| d / ||w||`` across the hyperplane: ``|w_j|`` (the cosine between the
        hyperplane's normal and feature ``j``, times ``||w||``) measures how much feature ``j``
        decides which side of it a row falls on, and the table is ranked by it. It is measured
        in the estimator's input space, where standardized features share one unit (a standard
        deviation); in a pipeline's original units a weight per dollar and one per year
        could not be compared, which is why the ranking stays the estimator's there. Without
        scaling, the raw features' units decide the ranking (and the fit): scale them first.
        The weights are the unit's weights now, after training; ``x_t`` and ``x_f`` are those
        of its birth, where its hyperplane passed through ``x_f``.

        Examples
        --------
        >>> from sklearn.datasets import make_moons
        >>> from skfold import FoldGrowClassifier
        >>> X, y = make_moons(200, noise=0.2, random_state=0)
        >>> clf = FoldGrowClassifier(random_state=0).fit(X, y)
        >>> why = clf.explain_unit(0)
        >>> why["origin"], why["top_features"][0] in ("x0", "x1")
        ('seed', True)
        """
