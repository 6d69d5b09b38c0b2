"""Numbers to pixels, in numpy only: frames laid out as pictures, reduced, coloured, encoded.

Read in this order: ``picture`` (the Picture value), ``layout`` (the tensor-to-picture rules),
``mosaic`` (tiles in a grid with gaps), ``reduce`` (block means for pictures larger than the
view), ``colour`` (colour maps, ranges, NaN and Inf), ``png`` (the one encoder), ``font`` and
``export`` (a picture with its title and colour bar, as a file).
"""
