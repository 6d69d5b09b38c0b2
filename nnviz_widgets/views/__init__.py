"""bqplot figures that show pictures and series; numpy, bqplot and ipywidgets, never torch.

The main heatmap (``heatmap``) is put together from ``geometry`` (its size, square cells),
``picture_axes``, ``colour_bar``, ``hover_grid`` (the pointer's targets) and ``image`` (PNG bytes
into a bqplot mark). The small charts (``metrics``, ``histogram``, ``gradients``) share their
frame through ``chart``.
"""
