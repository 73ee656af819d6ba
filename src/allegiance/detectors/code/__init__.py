"""Code in model answers: extraction and security analysis.

:mod:`.extract` finds the code an answer contains (fenced blocks, a bare code answer,
unified diffs) and guesses each block's language. It is shared with other detectors (the
package detector reads manifests and imports from it), so it stays a pure, fast function
with no dependency beyond the standard library. The security analysers and their rules
(kept as YAML data in ``rules/``) live beside it and are imported only by
:mod:`allegiance.detectors.code_security`.
"""

from allegiance.detectors.code.extract import CodeBlock, detect_language, extract_code

__all__ = ["CodeBlock", "detect_language", "extract_code"]
