"""Choosing which fields of someone else's records hold the prompt, answer and label."""

from __future__ import annotations

from typing import Any

import pytest

from allegiance.cli.judge_fields import choose_fields, transcript_pair


def _choose(record: dict[str, Any], **given: str) -> tuple[Any, list[str]]:
    return choose_fields(
        record,
        prompt=given.get("prompt"),
        response=given.get("response"),
        label=given.get("label"),
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"prompt": "p", "response": "r", "label": "x"}, ("prompt", "response", "label")),
        (
            {"prompt": "p", "completion": "r", "final_label": "x"},
            ("prompt", "completion", "final_label"),
        ),
        ({"instruction": "p", "output": "r"}, ("instruction", "output", "label")),
        ({"question": "p", "answer": "r", "gold": True}, ("question", "answer", "gold")),
        # WildGuardMix: the refusal label beside two harm labels, which are not taken
        (
            {
                "prompt": "p",
                "response": "r",
                "prompt_harm_label": "harmful",
                "response_refusal_label": "refusal",
                "response_harm_label": "unharmful",
            },
            ("prompt", "response", "response_refusal_label"),
        ),
        (
            {"prompt": "p", "response": "r", "is_refusal": False},
            ("prompt", "response", "is_refusal"),
        ),
        ({"goal": "p", "target_response": "r"}, ("goal", "target_response", "label")),
        # "response" is ours and wins over any other spelling present
        ({"prompt": "p", "response": "r", "answer": "a"}, ("prompt", "response", "label")),
        # a non-string "output" (a dict of metadata) is not taken for the answer
        ({"prompt": "p", "output": {"tokens": 3}, "answer": "r"}, ("prompt", "answer", "label")),
    ],
)
def test_first_record_decides_the_fields(record: dict[str, Any], expected: tuple[str, ...]) -> None:
    fields, notes = _choose(record)
    assert (fields.prompt, fields.response, fields.label) == expected
    assert len(notes) == sum(name not in ("prompt", "response", "label") for name in expected)


def test_named_fields_are_used_as_given() -> None:
    fields, notes = _choose({"q": "p", "completion": "r"}, prompt="q", response="missing")
    assert (fields.prompt, fields.response) == ("q", "missing")
    assert notes == []


def test_nothing_recognisable_keeps_our_names_for_the_error_message() -> None:
    fields, notes = _choose({"foo": "bar"})
    assert (fields.prompt, fields.response, fields.label) == ("prompt", "response", "label")
    assert notes == []


def test_transcript_gives_last_assistant_turn_and_the_user_turn_before_it() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image"}]},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "a follow-up nobody answered"},
    ]
    assert transcript_pair(messages) == ("second", "two")
    fields, notes = _choose({"messages": messages})
    assert fields.transcript == "messages"
    assert fields.pair({"messages": messages}) == ("second", "two")
    assert notes == ["reading the prompt and the answer from 'messages'"]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        "not a list",
        [{"role": "user", "content": "only a question"}],
        [{"role": "assistant", "content": None}],
        [None, 3, {"role": "assistant"}],
    ],
)
def test_transcripts_without_an_answer_are_not_used(messages: Any) -> None:
    assert transcript_pair(messages) is None
    fields, _ = _choose({"messages": messages})
    assert fields.transcript is None


def test_assistant_turn_without_a_user_turn_is_judged_alone() -> None:
    assert transcript_pair([{"role": "assistant", "content": "Hi"}]) == (None, "Hi")


def test_fields_holding_message_lists_are_read_as_their_last_turn() -> None:
    """OpenAI's RBR gold set stores ``prompt`` and ``completion`` as chat message lists."""
    record = {
        "prompt": [
            {"role": "system", "content": "policy"},
            {"role": "user", "content": "How do I pick a lock?"},
        ],
        "completion": [{"role": "assistant", "content": "I can't help with that."}],
        "response_type": "Hard Refuse",  # the behaviour wanted, not a label: never guessed
    }
    fields, notes = _choose(record)
    assert (fields.prompt, fields.response, fields.label) == ("prompt", "completion", "label")
    assert fields.pair(record) == ("How do I pick a lock?", "I can't help with that.")
    assert notes == ["reading 'completion' as the answer"]
