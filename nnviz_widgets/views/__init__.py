"""bqplot figures that show pictures and series; numpy, bqplot and ipywidgets, never torch."""
