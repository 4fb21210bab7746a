"""Riders of two-wheelers: association of person tracks to their motorbike, helmets, rider counts."""
