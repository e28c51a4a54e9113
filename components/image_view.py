"""Image fields on the Annotate (and review) page: each image an ``<img>`` pointing at Docket's
own image route, with click-to-zoom.

The page never sends image bytes over its websocket: the markdown image names
``/_docket/image/<sha256>`` (:mod:`components.image_route`), which the browser fetches once and
caches by hash, so "save & next" stays as cheap as for a text item. The only text in the
markdown is a SHA-256 checked by pattern and a fixed alt text, never anything from the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from components.image_route import image_url
from storage.images import is_image_hash

# Height of the image in the item view: the label form stays in view; "Zoom" shows it whole.
PREVIEW_WIDTH = 520


def render_image_field(field_name: str, value: Any, *, key_prefix: str = "annotate.image",
                       titles: Sequence[str] | None = None) -> None:
    """Draw the image(s) of one field: a hash (kind ``image``) or a list of them (``images``).

    ``titles`` (markdown of our own, one per image) heads each image, e.g. "Response 2" of
    images to rank. A value that is not a stored image's hash (a schema changed after import)
    is shown as a caption saying so, never as a link.
    """
    hashes = value if isinstance(value, list) else [value]
    if len(hashes) > 1 and titles is None:
        st.caption(f"{len(hashes)} images")
    base = str(st.get_option("server.baseUrlPath") or "")
    columns = st.columns(min(len(hashes), 3)) if len(hashes) > 1 else [st.container()]
    for index, digest in enumerate(hashes):
        with columns[index % len(columns)]:
            if titles is not None:
                st.markdown(titles[index])
            if not is_image_hash(digest):
                st.caption("(not an image)")
                continue
            url = image_url(digest, base_path=base)
            st.markdown(f"![image {index + 1}]({url})", width=PREVIEW_WIDTH)
            if st.button("Zoom", key=f"{key_prefix}.{field_name}.{index}.{digest[:12]}",
                         icon=":material/zoom_in:", type="tertiary",
                         help="Show the image at full size"):
                _zoom(url, index + 1)


@st.dialog("Image", width="large")
def _zoom(url: str, number: int) -> None:
    st.markdown(f"![image {number}]({url})")
    st.caption("Press Esc or click outside to close.")
