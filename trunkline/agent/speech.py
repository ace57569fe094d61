"""Pronunciation and text replacement rules, applied to what the agent says (never to the
transcript): text replacements first, then each word's pronunciation.

`alias` pronunciations are respelled for every voice; `ipa` and `cmu` ones become SSML phoneme
tags where the TTS reads SSML (ElevenLabs, with SSML parsing on), and are skipped elsewhere.
"""

import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable

from trunkline.pipeline import PronunciationRule, TextReplacementRule

logger = logging.getLogger(__name__)

SSML_ALPHABETS = {"ipa": "ipa", "cmu": "cmu-arpabet"}
SENTENCE_END = re.compile(r"[.!?;:\n]\s")
"""Where a streamed reply can be cut for rewriting: rules never span a sentence's end."""

Rewrite = Callable[[str], str]


def rewriter(
    pronunciations: list[PronunciationRule],
    replacements: list[TextReplacementRule],
    *,
    ssml: bool,
) -> Rewrite | None:
    """A function that applies the rules to a piece of text, or None without rules."""
    steps = [_replacement(rule) for rule in replacements]
    for rule in pronunciations:
        if rule.alphabet == "alias" or ssml:
            steps.append(_pronunciation(rule, ssml))
        else:
            logger.warning("the TTS reads no %s: %r is said as written", rule.alphabet, rule.word)
    if not steps:
        return None

    def rewrite(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return rewrite


def _replacement(rule: TextReplacementRule) -> Rewrite:
    flags = 0 if rule.case_sensitive else re.IGNORECASE
    pattern = re.compile(rule.find if rule.regex else re.escape(rule.find), flags)
    replace = rule.replace if rule.regex else rule.replace.replace("\\", "\\\\")
    return lambda text: pattern.sub(replace, text)


def _pronunciation(rule: PronunciationRule, ssml: bool) -> Rewrite:
    flags = 0 if rule.case_sensitive else re.IGNORECASE
    pattern = re.compile(rf"(?<!\w){re.escape(rule.word)}(?!\w)", flags)
    if rule.alphabet == "alias":
        return lambda text: pattern.sub(lambda _: rule.pronunciation, text)
    alphabet = SSML_ALPHABETS[rule.alphabet]
    tag = f'<phoneme alphabet="{alphabet}" ph="{rule.pronunciation}">{{}}</phoneme>'
    return lambda text: pattern.sub(lambda m: tag.format(m.group(0)), text) if ssml else text


async def rewritten(text: AsyncIterable[str], rewrite: Rewrite) -> AsyncIterator[str]:
    """The streamed text, rewritten a sentence at a time (a word is never cut in two)."""
    pending = ""
    async for chunk in text:
        pending += chunk
        cuts = list(SENTENCE_END.finditer(pending))
        if cuts:
            end = cuts[-1].end()
            yield rewrite(pending[:end])
            pending = pending[end:]
    if pending:
        yield rewrite(pending)
