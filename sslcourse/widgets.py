"""Interactive figures that degrade gracefully.

``interactive_plot(draw, t=IntSlider(...))`` returns a widget: in JupyterLab, Notebook 7 or VS Code the
sliders drive a live matplotlib figure; everywhere else (nbconvert, GitHub, the grader, a terminal) the
same object displays a static PNG of the figure at the sliders' initial values. The trick: its rich
representation carries both the widget view and ``image/png``, and each frontend picks the best it can
render.
"""
from __future__ import annotations

import base64
import io

import ipywidgets as W
import matplotlib.pyplot as plt


def figure_png(draw, values: dict) -> bytes:
    """Render ``draw(**values)`` off-screen and return PNG bytes."""
    with plt.ioff():
        draw(**values)
        fig = plt.gcf()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        plt.close(fig)
    return buf.getvalue()


class InteractivePlot(W.VBox):
    """Controls above a live figure; falls back to a static PNG without a widget frontend."""

    def __init__(self, draw, controls: dict, *, static_values: dict | None = None):
        self._draw = draw
        self._output = W.interactive_output(self._render, controls)
        self._static_values = static_values or {k: c.value for k, c in controls.items()}
        super().__init__([W.HBox(list(controls.values()), layout=W.Layout(flex_flow="row wrap")), self._output])

    def _render(self, **values):
        self._draw(**values)
        plt.show()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        png = figure_png(self._draw, self._static_values)
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        bundle["text/plain"] = f"<interactive figure: static view at {self._static_values}>"
        return bundle


def interactive_plot(draw, *, static_values: dict | None = None, **controls) -> InteractivePlot:
    """Live figure ``draw(**values)`` driven by ipywidgets ``controls`` (sliders, dropdowns, ...)."""
    return InteractivePlot(draw, controls, static_values=static_values)
