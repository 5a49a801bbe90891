"""QR codes for links shown on a screen in the room (an invite link), as PNG bytes.

segno is pure Python (no Pillow, no C), so this works wherever Ringround runs.
"""

from __future__ import annotations

import io

import segno


def qr_png(text: str, *, scale: int = 8) -> bytes:
    """A PNG QR code of `text`, error correction M, with the standard quiet zone."""
    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
