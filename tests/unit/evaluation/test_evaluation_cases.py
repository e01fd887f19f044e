"""Question files: every field checked, every bad line reported at once with its line number."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from qwenvl_agents.errors import QwenVLError
from qwenvl_agents.evaluation import CaseFileError, EvalCase, load_cases, resolve_corpus_root
from tests.support.corpus import require_corpus
from tests.unit.evaluation.helpers import corpus_with, good_row, write_lines


def test_a_good_file_gives_frozen_cases_with_resolved_paths(tmp_path) -> None:
    root = corpus_with(tmp_path / "corpus", "docs/a.pdf", "docs/b.pdf")
    rows = [
        "# dev questions",
        "",
        good_row(source_of_truth="a.json", evidence_on_page="Total 4.11"),
        "   ",
        good_row(id="q2", file="docs/b.pdf", page=None, pages=[2, 3], answer="Coolblue", answer_type="contains"),
        good_row(id="q3", page=2, pages=[1, 2], answer=4904.94),  # page and pages are merged; a number answer
        good_row(id="q4", answerable=False, page=None, answer=None, answer_type=None, scope="document"),
    ]
    cases = load_cases(write_lines(tmp_path / "qa.jsonl", rows), root)
    assert [c.id for c in cases] == ["q1", "q2", "q3", "q4"]
    first = cases[0]
    assert first == EvalCase("q1", "docs", "docs/a.pdf", (root / "docs/a.pdf").resolve(), (1,), "What is the total?",
                             "4.11", "number", True, "corpus",
                             {"source_of_truth": "a.json", "evidence_on_page": "Total 4.11"})  # fmt: skip
    assert first.path.is_absolute() and first.path.is_file()
    assert cases[1].pages == (2, 3) and cases[1].answer_type == "contains"
    assert cases[2].pages == (2, 1) and cases[2].answer == "4904.94"
    assert cases[3].answerable is False and cases[3].pages == () and cases[3].answer is None
    assert cases[3].scope == "document"
    assert cases[3].answer_type == "exact"  # unused for an unanswerable case
    with pytest.raises(AttributeError):
        first.answer = "5"  # type: ignore[misc]
    assert hash(first) == hash(replace(first, extra={}))  # usable as a key; extra is not hashed
    assert json.loads(json.dumps(asdict(first), default=str))["extra"] == first.extra  # reports can dump it


def test_set_defaults_to_the_first_folder_of_file(tmp_path) -> None:
    root = corpus_with(tmp_path, "invoices/a.pdf", "top.pdf")
    rows = [good_row(set=None, file="invoices/a.pdf"), good_row(id="q2", set=None, file="top.pdf")]
    cases = load_cases(write_lines(tmp_path / "qa.jsonl", rows), root)
    assert [c.set for c in cases] == ["invoices", ""]


def test_every_bad_line_is_reported_together_with_its_line_number(tmp_path) -> None:
    root = corpus_with(tmp_path / "corpus", "docs/a.pdf")
    rows = [
        good_row(),  # 1: fine
        '{"id": "broken", ',  # 2
        good_row(id="q3", question=None),  # 3
        good_row(id="q4", answer_type="fuzzy"),  # 4
        good_row(id="q5", page=0),  # 5
        good_row(id="q6", page="2"),  # 6
        good_row(id="q7", page=True),  # 7
        good_row(id="q8", pages=[1, -2]),  # 8
        good_row(id="q1"),  # 9: duplicate of line 1
        good_row(id="q10", file="docs/missing.pdf"),  # 10
        "[1, 2]",  # 11
        good_row(id="q12", answer="twelve"),  # 12: number case whose answer is no number
        good_row(id="q13", scope="everything"),  # 13
        good_row(id="q14", answerable="no"),  # 14
        good_row(id="q15", page=None),  # 15: answerable without a gold page
        good_row(id="q16", answer=None),  # 16
        "# a comment",  # 17
        good_row(id=None),  # 18
        good_row(id="q19", answer_type=None),  # 19
        good_row(id="q20", file=None),  # 20
        good_row(id="q21", pages=[]),  # 21
    ]
    path = write_lines(tmp_path / "bad.jsonl", rows)
    with pytest.raises(CaseFileError) as info:
        load_cases(path, root)
    error = info.value
    by_line = {p.line: p.message for p in error.problems}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21]
    assert "invalid JSON" in by_line[2]
    assert "missing field 'question'" in by_line[3]
    assert "unknown answer_type 'fuzzy'" in by_line[4] and "exact | number | contains" in by_line[4]
    for line in (5, 6, 7, 8):
        assert "positive integer" in by_line[line]
    assert "duplicate id 'q1' (first on line 1)" in by_line[9]
    missing = (root / "docs" / "missing.pdf").resolve()
    assert "file not found: docs/missing.pdf" in by_line[10] and str(missing) in by_line[10]
    assert "--corpus" in by_line[10] and "QWENVL_CORPUS" in by_line[10]
    assert "expected a JSON object, got list" in by_line[11]
    assert "'twelve' is not a number" in by_line[12]
    assert "unknown scope 'everything'" in by_line[13]
    assert "answerable must be true or false" in by_line[14]
    assert "missing field 'page'" in by_line[15]
    assert "missing field 'answer'" in by_line[16]
    assert "missing field 'id'" in by_line[18]
    assert "missing field 'answer_type'" in by_line[19]
    assert "missing field 'file'" in by_line[20]
    assert "non-empty list" in by_line[21]
    # the message lists them all as file:line: problem, in order, under one heading
    message = str(error)
    assert message.startswith(f"{len(error.problems)} problems in {path}:\n")
    listed = message.splitlines()[1:]
    assert [int(line.split(":")[1]) for line in listed] == [p.line for p in error.problems]
    assert all(line.startswith(f"{path}:") for line in listed)
    assert len(error.problems) >= len(by_line)  # a line may carry more than one problem


def test_one_line_may_have_several_problems_and_all_are_listed(tmp_path) -> None:
    root = corpus_with(tmp_path, "docs/a.pdf")
    path = write_lines(tmp_path / "qa.jsonl", [good_row(page=-1, answer_type="fuzzy", file="nope.pdf")])
    with pytest.raises(CaseFileError) as info:
        load_cases(path, root)
    assert [p.line for p in info.value.problems] == [1, 1, 1]


def test_the_error_is_a_qwenvl_error_and_a_value_error_and_survives_pickling(tmp_path) -> None:
    path = write_lines(tmp_path / "qa.jsonl", ["{oops"])
    with pytest.raises(CaseFileError) as info:
        load_cases(path, tmp_path)
    assert isinstance(info.value, QwenVLError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path}:1: invalid JSON")  # one problem: no heading
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.problems == info.value.problems


def test_long_lists_are_cut_in_the_message_but_kept_whole(tmp_path) -> None:
    path = write_lines(tmp_path / "qa.jsonl", ["{oops"] * 60)
    with pytest.raises(CaseFileError) as info:
        load_cases(path, tmp_path)
    assert len(info.value.problems) == 60
    assert str(info.value).splitlines()[-1] == "... and 10 more"


def test_file_level_problems(tmp_path) -> None:
    with pytest.raises(CaseFileError, match="no such file"):
        load_cases(tmp_path / "absent.jsonl", tmp_path)
    empty = write_lines(tmp_path / "empty.jsonl", ["# nothing", ""])
    with pytest.raises(CaseFileError, match="no cases"):
        load_cases(empty, tmp_path)
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CaseFileError, match="not UTF-8"):
        load_cases(binary, tmp_path)


def test_corpus_root_explicit_then_environment_then_the_question_files_folder(tmp_path) -> None:
    questions = tmp_path / "qs" / "qa.jsonl"
    explicit, from_env = corpus_with(tmp_path / "explicit"), corpus_with(tmp_path / "env")
    explicit.mkdir(exist_ok=True)
    from_env.mkdir(exist_ok=True)
    env = {"QWENVL_CORPUS": str(from_env)}
    assert resolve_corpus_root(questions, explicit, environ=env) == explicit.resolve()
    assert resolve_corpus_root(questions, None, environ=env) == from_env.resolve()
    assert resolve_corpus_root(questions, None, environ={}) == (tmp_path / "qs").resolve()
    assert resolve_corpus_root(questions, None, environ={"QWENVL_CORPUS": ""}) == (tmp_path / "qs").resolve()
    with pytest.raises(CaseFileError, match=r"from --corpus\) is not a folder"):
        resolve_corpus_root(questions, tmp_path / "nowhere", environ=env)
    with pytest.raises(CaseFileError, match=r"from QWENVL_CORPUS\) is not a folder"):
        resolve_corpus_root(questions, None, environ={"QWENVL_CORPUS": str(tmp_path / "nowhere")})


def test_load_cases_resolves_the_root_itself_when_none_is_given(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("QWENVL_CORPUS", raising=False)
    corpus_with(tmp_path, "docs/a.pdf")
    path = write_lines(tmp_path / "qa.jsonl", [good_row()])
    assert load_cases(path)[0].path == (tmp_path / "docs" / "a.pdf").resolve()
    monkeypatch.setenv("QWENVL_CORPUS", str(tmp_path / "docs"))
    with pytest.raises(CaseFileError, match=r"file not found: docs/a\.pdf"):
        load_cases(path)


def test_the_real_dev_questions_load_and_point_at_existing_files() -> None:
    corpus = require_corpus()
    questions = corpus / "qa-dev.jsonl"
    cases = load_cases(questions, corpus)
    assert len(cases) == 62
    assert len({c.id for c in cases}) == 62
    assert all(c.path.is_file() and c.path.is_relative_to(corpus) for c in cases)
    assert all(len(c.pages) == 1 and c.pages[0] >= 1 and c.answerable for c in cases)
    rows = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    assert [(c.id, c.set, c.file, c.pages[0], c.answer, c.answer_type, c.scope) for c in cases] == [
        (r["id"], r["set"], r["file"], r["page"], r["answer"], r["answer_type"], r["scope"]) for r in rows
    ]
    assert {c.scope for c in cases} == {"corpus", "document"}
    assert all(set(c.extra) == {"source_of_truth", "evidence_on_page"} for c in cases)
    # from the question file's own folder, without --corpus, the same files are found
    assert [c.path for c in load_cases(questions, resolve_corpus_root(questions, environ={}))] == [
        c.path for c in cases
    ]


def test_the_real_dev_questions_fail_clearly_under_a_wrong_root(tmp_path) -> None:
    corpus = require_corpus()
    with pytest.raises(CaseFileError) as info:
        load_cases(corpus / "qa-dev.jsonl", tmp_path)
    assert len(info.value.problems) == 62
    assert all("file not found" in p.message for p in info.value.problems)
    assert Path(info.value.path) == corpus / "qa-dev.jsonl"
