"""Which fields of a record hold the prompt, the answer and the human label.

Why: answers collected elsewhere rarely use our field names. XSTest publishes ``completion``
and ``final_label``; instruction sets use ``instruction``/``output``; Q&A logs
``question``/``answer``; chat logs a ``messages`` list. A validation run on someone else's
labelled data should not fail, or silently score nothing, because of spelling. So when the
user has not named a field, the first record decides, by a fixed order of common names, and
the choice is said once on stderr. A field the user names is used as given, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Most specific first: "response" and "prompt" are ours; "text" and "content" are left out on
# purpose (a log's "text" may be either side of the exchange).
RESPONSE_NAMES = (
    "response",
    "completion",
    "model_response",
    "model_output",
    "target_response",  # JailbreakBench's judge comparison
    "output",
    "answer",
    "generation",
    "reply",
    "assistant",
)
PROMPT_NAMES = (
    "prompt",
    "question",
    "instruction",
    "query",
    "input",
    "user",
    "forbidden_prompt",
    "goal",
    "behavior",
)
# Not "response_type": in OpenAI's RBR gold set it is the behaviour the prompt *should* get,
# not what the answer did (their labels are the ``propositions``).
# WildGuardMix names its refusal label "response_refusal_label" beside two harm labels; a
# boolean "is_refusal" or "refused" means flagged, as our booleans do. Not "jailbroken": its 1
# means the model complied (say --label-map 1=not-flagged; judge warns when labels look inverted).
LABEL_NAMES = (
    "label",
    "final_label",
    "human_label",
    "gold_label",
    "gold",
    "annotation",
    "response_refusal_label",
    "refusal_label",
    "is_refusal",
    "refused",
    "refusal",
)
TRANSCRIPT_NAMES = ("messages", "conversation")


@dataclass(frozen=True)
class Fields:
    """The field names to read; ``transcript`` names a chat list to read both sides from."""

    prompt: str
    response: str
    label: str
    transcript: str | None = None

    def pair(self, record: Mapping[str, Any]) -> tuple[Any, Any]:
        """(prompt, response) as stored; from the transcript when there is one, and a field
        holding a list of chat messages read as its last turn of the right role."""
        if self.transcript is not None:
            turns = transcript_pair(record.get(self.transcript))
            if turns is not None:
                return turns
        prompt, response = record.get(self.prompt), record.get(self.response)
        if isinstance(prompt, list):
            prompt = last_turn(prompt, "user")
        if isinstance(response, list):
            # a chat transcript gives its last assistant turn; any other list is not an
            # answer (kept as it is, so the caller reports it rather than a null answer)
            is_chat = bool(response) and all(
                isinstance(m, Mapping) and "role" in m for m in response
            )
            response = last_turn(response, "assistant") if is_chat else response
        return prompt, response


def _readable(value: Any, role: str) -> bool:
    """A string, or a list of chat messages with a ``role`` turn (RBR stores both sides so)."""
    return isinstance(value, str) or (
        isinstance(value, list) and last_turn(value, role) is not None
    )


def _first_readable_field(record: Mapping[str, Any], names: Sequence[str], role: str) -> str | None:
    return next((name for name in names if _readable(record.get(name), role)), None)


def last_turn(messages: list[Any], role: str) -> str | None:
    """The text of the last message with this role in a list of chat messages."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == role:
            return _message_text(message)
    return None


def _message_text(message: Any) -> str | None:
    """The text of one chat message: a string, or OpenAI-style content parts."""
    if not isinstance(message, Mapping):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts) if parts else None
    return None


def transcript_pair(messages: Any) -> tuple[str | None, str] | None:
    """(last user turn before it, last assistant turn) of a chat transcript, or None when the
    transcript has no assistant turn with text. Earlier turns are context, not the answer."""
    if not isinstance(messages, list):
        return None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, Mapping) and message.get("role") == "assistant":
            answer = _message_text(message)
            return None if answer is None else (last_turn(messages[:index], "user"), answer)
    return None


def choose_fields(
    first: Mapping[str, Any],
    *,
    prompt: str | None,
    response: str | None,
    label: str | None,
) -> tuple[Fields, list[str]]:
    """(fields, notes). ``None`` for a name means the user left it to us; the notes say what
    was guessed, for stderr."""
    notes: list[str] = []
    transcript = None
    if response is None and not _readable(first.get("response"), "assistant"):
        transcript = next(
            (n for n in TRANSCRIPT_NAMES if transcript_pair(first.get(n)) is not None), None
        )
        if transcript is not None:
            notes.append(f"reading the prompt and the answer from '{transcript}'")

    def guess(given: str | None, names: Sequence[str], what: str) -> str:
        if given is not None:
            return given
        if transcript is not None and what != "label":
            return names[0]
        found = _first_readable_field(first, names, "user" if what == "prompt" else "assistant")
        if found is None and what == "label":
            # labels may be booleans or numbers, not only strings
            found = next((n for n in names if first.get(n) not in (None, "")), None)
        if found is not None and found != names[0]:
            notes.append(f"reading '{found}' as the {what}")
        return found or names[0]

    fields = Fields(
        prompt=guess(prompt, PROMPT_NAMES, "prompt"),
        response=guess(response, RESPONSE_NAMES, "answer"),
        label=guess(label, LABEL_NAMES, "label"),
        transcript=transcript,
    )
    return fields, notes
