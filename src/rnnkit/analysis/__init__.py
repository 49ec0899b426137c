"""Tools for studying how recurrent networks train, beyond running them.

:mod:`rnnkit.analysis.reference` holds a hand-derived NumPy implementation of forward and
backward propagation through time for every rnnkit cell family, written to be read next to
the equations and used as an independent check on autograd.
"""
