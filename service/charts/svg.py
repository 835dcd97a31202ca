"""matplotlib's SVG made safe under a strict CSP (no ``style`` attribute or element).

matplotlib writes ``style`` attributes and one ``<style>`` element, which a
Content-Security-Policy without ``'unsafe-inline'`` styles blocks; ``strict_svg``
rewrites them as SVG presentation attributes, drops the metadata, adds a ``<title>``
(the hover text) to every mark named in ``tips`` and a title and description to the
picture, for screen readers.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
    "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray",
    "stroke-dashoffset", "opacity", "font-family", "font-size", "font-style",
    "font-weight", "text-anchor", "clip-path", "dominant-baseline", "paint-order",
}
_DECLARATION = re.compile(r"\s*([a-z-]+)\s*:\s*([^;]+)")


def strict_svg(document: str, tips: dict[str, str], *, title: str, summary: str,
               ident: str, css_class: str) -> str:
    """The ``<svg>`` element of ``document`` (our own matplotlib output), CSP-safe."""
    body = document[document.index("<svg"):]
    root = ET.fromstring(body)  # noqa: S314 (our own output; the DOCTYPE has no entities)
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            if tag in {"metadata", "style"}:
                parent.remove(child)
    for element in root.iter():
        style = element.attrib.pop("style", None)
        if style:
            for name, value in _DECLARATION.findall(style):
                if name in PRESENTATION:
                    element.set(name, value.strip())
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in {"path", "use", "line", "polyline"}:
            element.attrib.setdefault("stroke-linejoin", "round")
        gid = element.get("id")
        if gid in tips:
            tip = ET.Element(f"{{{SVG_NS}}}title")
            tip.text = tips[gid]
            element.insert(0, tip)
            element.set("class", "tip")
    heading = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{ident}-title"})
    heading.text = title
    desc = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{ident}-desc"})
    desc.text = summary
    root.insert(0, desc)
    root.insert(0, heading)
    root.set("role", "img")
    root.set("aria-labelledby", f"{ident}-title {ident}-desc")
    root.set("class", css_class)
    # Scales with its container: the viewBox keeps the proportions.
    root.attrib.pop("width", None)
    root.attrib.pop("height", None)
    return ET.tostring(root, encoding="unicode")
