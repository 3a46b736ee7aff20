"""Installed as ``streamocr.models``: the digit model (``digits.onnx``) shipped with the package.

Found through `streamocr.resources.DEFAULT_MODEL`; this file only makes the folder a package.
"""
