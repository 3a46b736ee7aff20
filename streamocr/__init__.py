"""streamocr: real-time Sudoku reading from photos, videos, cameras and streams."""
