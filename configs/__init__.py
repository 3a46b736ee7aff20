"""Installed as ``streamocr.configs``: the documented defaults (``default.toml``).

Found through `streamocr.resources.DEFAULT_CONFIG`; this file only makes the folder a package.
"""
