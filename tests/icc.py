"""A Display P3 colour profile made from its published numbers, for tests of colour-managed input.

ICC v2 "matrix/TRC" profile: the D50-adapted (Bradford) XYZ of the three primaries and a gamma of
2.2 for each channel (close to P3's sRGB-like curve). Pillow cannot make one, so it is written here
byte by byte (ICC.1:2001-04: header, tag table, then each tag)."""

from __future__ import annotations

import struct

import numpy as np

D65 = np.array([0.95047, 1.0, 1.08883])
D50 = np.array([0.96422, 1.0, 0.82521])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))  # red, green, blue (x, y); white D65


def _colorants(primaries, white) -> np.ndarray:
    """Columns: the XYZ of full red, green and blue under `white`, adapted to D50 (Bradford)."""
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(xyz, white)
    matrix = xyz * scale
    cone = np.linalg.inv(BRADFORD) @ np.diag((BRADFORD @ D50) / (BRADFORD @ white)) @ BRADFORD
    return cone @ matrix


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4) + bytes(4) + bytes(2) + bytes(1) + bytes(67)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def display_p3_profile(description: str = "Display P3 (test)", gamma: float = 2.2) -> bytes:
    colorants = _colorants(DISPLAY_P3, D65)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))
    tags = [(b"desc", _desc_tag(description)), (b"wtpt", _xyz_tag(D50)), (b"rXYZ", _xyz_tag(colorants[:, 0])),
            (b"gXYZ", _xyz_tag(colorants[:, 1])), (b"bXYZ", _xyz_tag(colorants[:, 2])), (b"rTRC", curve),
            (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text" + bytes(4) + b"public domain\0")]  # fmt: skip
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += _pad(body)
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + bytes(12) + b"acsp"
              + bytes(4) + bytes(4) + bytes(4) + bytes(4) + bytes(8) + bytes(4) + b"".join(_s15(v) for v in D50)
              + bytes(4) + bytes(16) + bytes(28))  # fmt: skip
    assert len(header) == 128
    return header + table + data
