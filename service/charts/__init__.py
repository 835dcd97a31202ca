"""Charts as SVG a strict Content-Security-Policy accepts (matplotlib, no JavaScript).

``svg.py`` turns matplotlib's SVG into presentation attributes only, with a title per mark;
the timeline app (``service/timeline/picture.py``) and the administrators' outcome charts
(``outcomes.py``) draw with it.
"""
