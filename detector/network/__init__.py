"""Across cameras and after the camera (issue 18): plate matching between readings, section
(point-to-point) average speed, hotlists, traffic statistics. Pure logic over typed records; the
store keeps the results (detector/store/network_models.py)."""
