"""The shipped model files and their card; installed as the package `model.assets`
(setup.cfg), where model.runtime.classifier finds them."""
