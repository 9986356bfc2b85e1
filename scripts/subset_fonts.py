"""Rebuild the fonts bundled with the agreements (src/affectation/documents/fonts/).

DejaVu Sans and DejaVu Sans Bold (Debian package fonts-dejavu-core; Bitstream Vera licence,
DejaVu changes in the public domain: see fonts/LICENSE-DejaVu.txt) are subset to the Latin
scripts, punctuation and symbols a French agreement uses (names of every Latin-script
language included), which keeps each file well under 1 MB. Run:

    .venv/bin/python scripts/subset_fonts.py [/usr/share/fonts/truetype/dejavu]
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

OUT = Path(__file__).resolve().parent.parent / "src" / "affectation" / "documents" / "fonts"
# Basic Latin, Latin-1, Latin Extended A and B, IPA-free extended additional (Vietnamese),
# combining diacritics, general punctuation, currency, letterlike symbols, arrows, boxes.
UNICODES = ("U+0020-007E,U+00A0-024F,U+0300-036F,U+1E00-1EFF,U+2000-206F,U+20A0-20BF,"
            "U+2100-214F,U+2190-21FF,U+2212,U+2610-2612,U+25A0-25A1,U+FB00-FB06")


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        options = subset.Options()
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        options.layout_features = ["*"]
        font = subset.load_font(str(source / name), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=subset.parse_unicodes(UNICODES))
        subsetter.subset(font)
        subset.save_font(font, str(OUT / name), options)
        print(f"{name}: {(OUT / name).stat().st_size // 1024} Ko")


if __name__ == "__main__":
    main()
