"""Diagnosis: what is wrong with a training, read from its recording (numpy only, no torch).

:func:`diagnose` returns a list of :class:`Finding`; ``docs/diagnosis.md`` lists the kinds, the
severities, every threshold and where it comes from. One module per family of checks:
:mod:`~nnviz_widgets.diagnose.nonfinite`, :mod:`~nnviz_widgets.diagnose.gradients`,
:mod:`~nnviz_widgets.diagnose.units`, :mod:`~nnviz_widgets.diagnose.learning`,
:mod:`~nnviz_widgets.diagnose.updates`, :mod:`~nnviz_widgets.diagnose.loss`; what they read, in
:mod:`~nnviz_widgets.diagnose.reading`; the thresholds in
:mod:`~nnviz_widgets.diagnose.thresholds`.
"""

from nnviz_widgets.diagnose.diagnose import diagnose
from nnviz_widgets.diagnose.findings import KINDS, SEVERITIES, Finding

__all__ = ["KINDS", "SEVERITIES", "Finding", "diagnose"]
