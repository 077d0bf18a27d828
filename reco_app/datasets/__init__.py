"""Datasets: events and the catalog snapshot as numpy arrays, turned into LightFM inputs.

* :mod:`~reco_app.datasets.events` reads consented events into column arrays (one query);
* :mod:`~reco_app.datasets.catalog` reads the catalog snapshot into a ``CatalogIndex``, the
  column arrays training and serving share (one query);
* :mod:`~reco_app.datasets.idmaps` builds stable id maps;
* :mod:`~reco_app.datasets.interactions` weights, decays and sums events into a user×item
  matrix;
* :mod:`~reco_app.datasets.features` encodes item (and user) features.

Everything but the two loaders is a pure function over arrays.
"""
