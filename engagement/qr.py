"""QR codes of party building (personal codes, rotating check-in codes, pickup codes), drawn with segno.

Always a full QR code: for a short text segno.make would pick a Micro QR, which few phone scanners read."""

import io

import segno


def qr_svg(text: str, *, scale: int = 6) -> str:
    """A whole SVG document (with its namespace, without an XML declaration): drawn as an image or inline alike."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(
        out, kind="svg", scale=scale, border=4, xmldecl=False, dark="#000", light="#fff"
    )
    return out.getvalue().decode()


def qr_png_data_uri(text: str, *, scale: int = 8) -> str:
    return segno.make_qr(text, error="m").png_data_uri(scale=scale, border=4)
