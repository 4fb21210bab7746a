"""Batch replay of many recorded videos on a cluster engine (Dask distributed), stored centrally."""
