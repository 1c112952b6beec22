"""Monitoring statistics: feature and prediction drift, calibration, concept drift, operations spikes.

Plain functions and classes over numpy arrays (scipy.stats / scipy.spatial for the tests and
distances): no bus, no actor, no file. The monitor worker feeds them what it logged and
publishes what they find.
"""
