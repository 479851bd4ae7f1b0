"""Logos are stored re-encoded as a clean PNG: nothing of the uploaded file survives but its
pixels (no trailing data of a polyglot, no EXIF, no text chunks)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, PngImagePlugin
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.support.signin import csrf_token

PAGE = "/admin/branding"
PAYLOAD = b"<script>alert(document.cookie)</script>"
PIXEL = (31, 95, 191)


@pytest.fixture
def pat(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> FlaskClient:
    return signed_in("pat@partner.example")


def picture(kind: str, **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), PIXEL).save(out, kind, **save)
    return out.getvalue()


def upload_and_fetch(client: FlaskClient, data: bytes) -> tuple[bytes, str]:
    """Upload `data` as the logo and fetch what the portal serves for it."""
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    file = FileStorage(io.BytesIO(data), filename="logo.png", content_type="image/png")
    boundary, body = encode_multipart(MultiDict({"logo": file, "csrf_token": token}))
    answer = client.post(
        f"{PAGE}/logo", data=body, content_type=f'multipart/form-data; boundary="{boundary}"'
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    home = client.get("/").get_data(as_text=True)
    src = home.split('<img src="')[1].split('"')[0].replace("&amp;", "&")
    served = client.get(src)
    assert served.status_code == 200
    return served.data, served.mimetype


def test_a_png_with_a_script_appended_is_served_without_it(pat: FlaskClient) -> None:
    polyglot = picture("PNG") + PAYLOAD + b"PK\x03\x04" + b"\x00" * 64  # image + html + zip
    served, mime = upload_and_fetch(pat, polyglot)
    assert mime == "image/png"
    assert PAYLOAD not in served and b"PK\x03\x04" not in served
    assert served.endswith(b"IEND\xaeB`\x82")  # a PNG that ends where PNGs end
    with Image.open(io.BytesIO(served)) as image:
        assert image.size == (120, 40) and image.convert("RGB").getpixel((0, 0)) == PIXEL


def test_exif_and_text_chunks_are_not_kept(pat: FlaskClient) -> None:
    exif = Image.Exif()
    exif[0x013B] = "Artist-Secret-Name"  # Artist
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    served, mime = upload_and_fetch(pat, picture("JPEG", exif=exif.tobytes()))
    assert mime == "image/png"
    assert b"Artist-Secret-Name" not in served
    with Image.open(io.BytesIO(served)) as image:
        assert not image.getexif() and "exif" not in image.info

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", PAYLOAD.decode())
    served, _mime = upload_and_fetch(pat, picture("PNG", pnginfo=text))
    assert PAYLOAD not in served
    with Image.open(io.BytesIO(served)) as image:
        assert "Comment" not in image.info


def test_the_pixels_and_transparency_survive(app: Flask, pat: FlaskClient) -> None:
    clear = Image.new("RGBA", (60, 20), (0, 0, 0, 0))
    clear.putpixel((5, 5), (255, 0, 0, 255))
    out = io.BytesIO()
    clear.save(out, "WEBP", lossless=True)
    served, mime = upload_and_fetch(pat, out.getvalue())
    assert mime == "image/png"
    with Image.open(io.BytesIO(served)) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0 and image.getpixel((5, 5)) == (255, 0, 0, 255)
