"""Passes over the IR: pure functions of the graph that annotate `node.ann`."""
