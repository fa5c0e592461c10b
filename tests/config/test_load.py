"""Loading: which files a path names, in which order, and what an empty or unreadable one says."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dpm.config.load import config_files, display_name, find_upwards, load, load_file
from dpm.errors import UsageError

PROVIDER = "kind: Provider\nidentifier: {}\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "providers.d"
    (folder / "nested").mkdir(parents=True)
    for name in ("b.yaml", "a.yml", "c.yaml"):
        (folder / name).write_text(PROVIDER.format(name[0]))
    (folder / "dpm.yaml").write_text("vars: {}\n")  # project settings, never a config document
    (folder / "README.md").write_text("# not config\n")
    (folder / "notes.yaml.bak").write_text(PROVIDER.format("bak"))
    (folder / "nested" / "d.yaml").write_text(PROVIDER.format("d"))  # directories are not searched recursively
    (tmp_path / "extra.yaml").write_text(PROVIDER.format("extra"))
    return tmp_path


def test_a_directory_names_its_yaml_files_sorted_and_single_files_follow_in_the_order_given(repo: Path) -> None:
    found = config_files(["providers.d", "extra.yaml"])
    assert [str(p) for p in found] == [
        "providers.d/a.yml",
        "providers.d/b.yaml",
        "providers.d/c.yaml",
        "extra.yaml",
    ]


def test_load_reads_every_document_and_remembers_each_file_as_written(repo: Path) -> None:
    loaded = load(["extra.yaml", "providers.d"])
    assert loaded.files == ["extra.yaml", "providers.d/a.yml", "providers.d/b.yaml", "providers.d/c.yaml"]
    assert [d.data["identifier"] for d in loaded.documents] == ["extra", "a", "b", "c"]
    assert loaded.diagnostics == []


def test_a_file_without_documents_is_an_error_at_its_first_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("empty.yaml").write_text("# only a comment\n---\n")
    (problem,) = load(["empty.yaml"]).diagnostics
    assert (problem.code, problem.location, problem.message) == (
        "empty-file",
        "empty.yaml:1:1",
        "file holds no documents",
    )
    assert problem.suggestion == "add a document (kind: Provider or kind: ProviderTemplate) or delete the file"


def test_a_file_that_cannot_be_decoded_is_a_diagnostic_and_the_rest_still_load(repo: Path) -> None:
    (repo / "providers.d" / "bad.yaml").write_bytes(b"kind: Provider\nname: \xff\n")
    loaded = load(["providers.d"])
    assert [d.data["identifier"] for d in loaded.documents] == ["a", "b", "c"]
    (problem,) = loaded.diagnostics
    assert problem.file == "providers.d/bad.yaml"
    assert problem.line == 2


def test_a_dash_reads_standard_input_and_refuses_when_there_is_none(repo: Path) -> None:
    loaded = load(["-", "extra.yaml"], stdin=io.BytesIO(PROVIDER.format("piped").encode()))
    assert loaded.files == ["<stdin>", "extra.yaml"]
    assert [d.data["identifier"] for d in loaded.documents] == ["piped", "extra"]
    with pytest.raises(UsageError) as refused:
        load(["-"])
    assert refused.value.message == "'-' names standard input, but none is available"


def test_a_single_document_file_refuses_a_second_document(tmp_path: Path) -> None:
    (tmp_path / "dpm.yaml").write_text("vars: {}\n---\nprune: true\n")
    document, problems = load_file(tmp_path / "dpm.yaml")
    assert document is not None
    assert document.data == {"vars": {}}
    assert [(p.code, p.line) for p in problems] == [("multiple-documents", 3)]
    (tmp_path / "empty.yaml").write_text("")
    assert load_file(tmp_path / "empty.yaml") == (None, [])


def test_names_below_the_working_directory_are_relative_and_others_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert display_name(tmp_path / "work" / "providers.d" / "a.yaml") == "providers.d/a.yaml"
    assert display_name(tmp_path / "elsewhere.yaml") == str((tmp_path / "elsewhere.yaml").resolve())


def test_find_upwards_looks_only_as_many_levels_as_asked(tmp_path: Path) -> None:
    (tmp_path / "dpm.yml").write_text("{}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_upwards(deep, ["dpm.yaml", "dpm.yml"], levels=3) == tmp_path / "dpm.yml"
    assert find_upwards(deep, ["dpm.yaml", "dpm.yml"], levels=2) is None
    (deep / "dpm.yaml").write_text("{}\n")
    assert find_upwards(deep, ["dpm.yaml", "dpm.yml"], levels=1) == deep / "dpm.yaml"
