"""Evaluation of qwenvl-agents on question files over real documents (``qwenvl eval``).

- :func:`load_cases` reads and checks a question file (:class:`EvalCase`; every bad line in one :class:`CaseFileError`).
- :func:`score_answer` scores an answer by its case's answer type; :func:`parse_number`, :func:`normalize_date`,
  :func:`normalize_text` and :func:`declined` are the rules it uses.
- :func:`expected_fields` and :func:`compare_fields` score extracted key fields against the corpus ground truth.
- :class:`Evaluation` runs :class:`EvalConfig` configurations over the cases (``runner``); ``report`` turns
  the :class:`EvalRun` into tables, a JSON report and a recall@k plot. ``qwenvl eval`` is the command.

Example:
    >>> from qwenvl_agents.evaluation import parse_number, normalize_date
    >>> parse_number("RM152.00"), normalize_date("3 Aug 2014")
    (Decimal('152.00'), '2014-08-03')
"""

from qwenvl_agents.evaluation.cases import CaseFileError, CaseProblem, EvalCase, load_cases, resolve_corpus_root
from qwenvl_agents.evaluation.fields import (
    FieldScore,
    GroundTruthError,
    compare_fields,
    expected_fields,
    field_accuracy,
    fields_agree,
)
from qwenvl_agents.evaluation.runner import CaseResult, EvalConfig, EvalRun, Evaluation
from qwenvl_agents.evaluation.scoring import (
    AnswerScore,
    date_readings,
    declined,
    normalize_date,
    normalize_text,
    number_candidates,
    parse_number,
    same_number,
    score_answer,
    strip_citations,
)

__all__ = [
    "AnswerScore",
    "CaseFileError",
    "CaseProblem",
    "CaseResult",
    "EvalCase",
    "EvalConfig",
    "EvalRun",
    "Evaluation",
    "FieldScore",
    "GroundTruthError",
    "compare_fields",
    "date_readings",
    "declined",
    "expected_fields",
    "field_accuracy",
    "fields_agree",
    "load_cases",
    "normalize_date",
    "normalize_text",
    "number_candidates",
    "parse_number",
    "resolve_corpus_root",
    "same_number",
    "score_answer",
    "strip_citations",
]
