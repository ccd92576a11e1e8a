"""Models: the registry (data in ``models/manifest.json``), loaders and the model API.

Public entry points (see `base` for the contract every model fulfils):
- ``registry.list_models()`` / ``registry.get_model_spec(id)``
- ``loader.load_model(id, scale=None, variant=None, **options)`` -> `SRModel`
"""
