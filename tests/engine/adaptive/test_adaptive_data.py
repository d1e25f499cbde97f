"""The folder validator on good and broken folders."""

import pytest

from engine.adaptive.data import TrainingDataError, validate_pairs
from tests.engine.adaptive.adaptive_fixtures import make_pair_folder


def test_good_folder_reports_every_pair(tmp_path):
    report = validate_pairs(make_pair_folder(tmp_path / "d", 3))
    assert len(report.pairs) == 3 and report.usable
    assert [p[0].stem for p in report.pairs] == ["img00", "img01", "img02"]
    assert "3 usable pair(s)" in report.text()


def test_broken_folder_names_every_problem(tmp_path):
    root = make_pair_folder(tmp_path / "d", 4)
    (root / "input" / "img00.png").rename(root / "input" / "lonely.png")  # unmatched both ways
    (root / "target" / "img01.png").write_bytes(b"not a png at all")  # unreadable
    small = root / "target" / "img02.png"
    from engine.image import Photo, load_photo, save_photo

    save_photo(Photo(load_photo(small).pixels[:20]), small)  # size mismatch
    (root / "input" / "notes.txt").write_text("ignored: not an image")
    report = validate_pairs(root)
    assert [p[0].stem for p in report.pairs] == ["img03"]
    assert report.unmatched_inputs == ["lonely"] and report.unmatched_targets == ["img00"]
    assert len(report.unreadable) == 1 and report.unreadable[0].startswith("img01.png")
    assert report.size_mismatches == ["img02: 48x48 vs 48x20"]
    assert not report.usable
    text = report.text()
    for needle in ("1 usable pair", "lonely", "img00", "unreadable", "48x20", "too few pairs"):
        assert needle in text
    with pytest.raises(TrainingDataError, match="cannot train"):
        report.require_usable()


def test_two_folders_picked_separately(tmp_path):
    root = make_pair_folder(tmp_path / "d", 2)
    report = validate_pairs(root / "input", root / "target")
    assert len(report.pairs) == 2


@pytest.mark.parametrize("layout", ["missing", "no-subfolders", "empty"])
def test_unusable_folders_raise_a_clear_error(tmp_path, layout):
    root = tmp_path / "d"
    if layout != "missing":
        root.mkdir()
    if layout == "empty":
        (root / "input").mkdir()
        (root / "target").mkdir()
        assert not validate_pairs(root).usable
        return
    with pytest.raises(TrainingDataError, match="no such folder" if layout == "missing" else "input"):
        validate_pairs(root)
