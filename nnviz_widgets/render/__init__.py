"""Numbers to pixels, in numpy only: frames laid out as pictures, reduced, coloured, encoded."""
