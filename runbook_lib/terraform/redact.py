"""Masking secrets in what Terraform prints, before it reaches a console, a log file or an error.

The patterns come from a real ``TF_LOG=DEBUG`` plan and apply of the common root in the
sandbox (Terraform 1.11, AWS provider 5.100). The AWS SDK's own logger already masks
the request signature and the x-amz-security-token header, and shows only the first and
last four characters of a secret access key; it does not mask:

- the response body of ssm:GetParameter: ``"Value": "<the decrypted SecureString>"``
  (the GitHub token, read by the codebuild-credential module), nor the request body of
  ssm:PutParameter (``"Value":"..."``);
- the ``<SessionToken>`` in every sts:AssumeRole response, in full.

The other shapes below are masked in case another SDK version or log level prints them
unmasked. A line is read on its own, so the API call a body belongs to is not known:
every JSON ``"Value"`` string is masked, SSM's or not.
"""

from __future__ import annotations

import re

MASK = "(redacted)"

# A JSON string's contents: anything but a quote or a backslash, or an escaped character.
_JSON_STRING = r'(?:[^"\\]|\\.)*'

# Each pattern keeps group 1 (the name) and replaces the rest of its match with MASK.
_PATTERNS = [
    # GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_),
    # server-to-server (ghs_), refresh (ghr_) and fine-grained (github_pat_).
    re.compile(r"()\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}"),
    # JSON fields: SSM parameter values, and credentials as STS, SSO and
    # credential_process print them.
    re.compile(rf'("(?:Value|SecretAccessKey|SessionToken)"\s*:\s*"){_JSON_STRING}(?=")'),
    # XML elements, as in sts:AssumeRole responses.
    re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(?=</\2>)"),
    # The security token header or query parameter, in any of its spellings:
    # X-Amz-Security-Token: ..., x_amz_security_token="...", X-Amz-Security-Token=...
    re.compile(r'(x[-_]amz[-_]security[-_]token"?\s*[:=]\s*"?)[^\s"&,]+', re.IGNORECASE),
    # The signature of an AWS4-HMAC-SHA256 Authorization header or a presigned URL.
    re.compile(r"((?:Signature|X-Amz-Signature)=)[^\s\",&]+"),
]


def redact(text: str) -> str:
    """``text`` with every secret shape above replaced by (redacted)."""
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\g<1>{MASK}", text)
    return text
