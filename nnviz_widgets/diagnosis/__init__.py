"""Diagnosis: what is wrong with a training, read from its recording (numpy only, no torch).

The part is named ``diagnosis``, apart from its function ``diagnose``, which
``nnviz_widgets`` exports: a package and a function of one name would shadow each other there
(``import nnviz_widgets.diagnose.units`` would fail once ``nnviz_widgets.diagnose`` is the
function).

:func:`diagnose` returns a list of :class:`Finding`; ``docs/diagnosis.md`` lists the kinds, the
severities, every threshold and where it comes from. One module per family of checks:
:mod:`~nnviz_widgets.diagnosis.nonfinite`, :mod:`~nnviz_widgets.diagnosis.gradients`,
:mod:`~nnviz_widgets.diagnosis.units`, :mod:`~nnviz_widgets.diagnosis.learning`,
:mod:`~nnviz_widgets.diagnosis.updates`, :mod:`~nnviz_widgets.diagnosis.loss`; what they read, in
:mod:`~nnviz_widgets.diagnosis.reading`; the thresholds in
:mod:`~nnviz_widgets.diagnosis.thresholds`.
"""

from nnviz_widgets.diagnosis.checks import diagnose
from nnviz_widgets.diagnosis.findings import KINDS, SEVERITIES, Finding

__all__ = ["KINDS", "SEVERITIES", "Finding", "diagnose"]
