"""Synthetic test material: seeded Sudoku pages and clips with per-frame truth.

`builders` renders printed pages and places them in scenes; `clips` films them with a
virtual hand-held camera and writes the truth that `streamocr eval-video` scores against.
"""
