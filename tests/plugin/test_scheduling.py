"""The xdist scope of a node id: its lab folder, whatever file inside the lab it comes from."""

from pathlib import Path

from pytest_acalab.collection.scheduling import lab_scope


def test_items_of_a_lab_share_its_folder_and_other_tests_do_not(tmp_path: Path) -> None:
    lab = tmp_path / "labs" / "one"
    (lab / "checks").mkdir(parents=True)
    (lab / "lab.yaml").write_text("title: x\n")
    (lab / "test_extra.py").write_text("")
    (lab / "checks" / "test_more.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_unit.py").write_text("")
    assert lab_scope(tmp_path, "labs/one/lab.yaml::revision-health[failing]") == "labs/one"
    assert lab_scope(tmp_path, "labs/one/test_extra.py::test_x") == "labs/one"
    assert lab_scope(tmp_path, "labs/one/checks/test_more.py::TestA::test_b") == "labs/one"
    assert lab_scope(tmp_path, "tests/test_unit.py::test_y") is None
