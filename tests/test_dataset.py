"""The labelled format and the by-page split."""

import numpy as np
import pytest

from streamocr.dataset import is_validation_page, load_folder, read_truth
from streamocr.errors import InputError


def test_split_is_by_page(photos_dir):
    for split in ("train", "validation"):
        printed = {p.page for p in load_folder(photos_dir / "v2_train", split)}
        filled = {p.page for p in load_folder(photos_dir / "mixed_train", split)}
        assert printed and filled
        # A page photographed twice is on one side only.
        other = "validation" if split == "train" else "train"
        assert not printed & {p.page for p in load_folder(photos_dir / "mixed_train", other)}


def test_about_one_page_in_five_is_validation():
    pages = [f"image{i}" for i in range(2000)]
    share = sum(map(is_validation_page, pages)) / len(pages)
    assert 0.15 < share < 0.25


def test_read_truth(tmp_path):
    dat = tmp_path / "image1.dat"
    dat.write_text("phone\n640x480\n" + "\n".join(["1 2 3 4 5 6 7 8 9"] * 9) + "\n")
    digits = read_truth(dat)
    assert digits.shape == (81,) and digits.dtype == np.int8 and digits[8] == 9


@pytest.mark.parametrize("body", ["", "1 2 3\n", "a b c d e f g h i\n" * 9])
def test_bad_truth_file(tmp_path, body):
    dat = tmp_path / "image1.dat"
    dat.write_text("phone\n640x480\n" + body)
    with pytest.raises(InputError, match="9 rows of 9 digits"):
        read_truth(dat)


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_folder(tmp_path / "absent")
