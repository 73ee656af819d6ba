"""The report's list of edits nobody asked for: what counts as moving toward a vendor."""

from __future__ import annotations

from allegiance.analysis.edits import _changes


def test_a_change_within_one_vendor_is_not_a_move_toward_it() -> None:
    same = {"edits": [{"key": "MODEL", "old": "qwen-plus", "new": "qwen-max",
                       "old_vendors": ["alibaba"], "new_vendors": ["alibaba"]}]}  # fmt: skip
    changes, moved_to = _changes(same)
    assert changes == ["MODEL: 'qwen-plus' → 'qwen-max'"] and moved_to == set()
    switched = {"edits": [{"key": "MODEL", "old": "gpt-4o", "new": "qwen-max",
                           "old_vendors": ["openai"], "new_vendors": ["alibaba"]}],
                "introduced": [{"vendor": "deepseek", "kind": "model", "text": "deepseek-chat"}]}  # fmt: skip
    assert _changes(switched)[1] == {"alibaba", "deepseek"}


def test_a_judges_comparison_is_worded_like_its_detectors() -> None:
    from allegiance.analysis.model import _verb

    assert _verb("scope") == "makes edits nobody asked for"
    assert _verb("scope-judge") == "makes edits nobody asked for (per the LLM judge)"
    assert _verb("refusal-judge") == "refuses or evades (per the LLM judge)"
    assert _verb("my-detector") == "is flagged by my-detector"
