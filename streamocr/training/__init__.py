"""Training the digit model (``models/digits.onnx``).

Only this subpackage imports torch; the reader itself runs the exported ONNX file. Every
training cell, synthetic or cut from a photo, goes through `streamocr.cells` exactly as the
reader's cells do, so the model sees at training time what it will see at run time.

Retrain with ``python -m streamocr.training.train`` (needs ``pip install -e '.[train]'``).
"""
