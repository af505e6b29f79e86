"""Plotly charts for the pages, built with graph_objects (several times faster than
plotly.express, which matters on every rerun) in one consistent style."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#d9480f", "#1c7ed6", "#37b24d", "#f59f00", "#7048e8", "#0ca678", "#e64980", "#868e96"]


def _layout(fig: go.Figure, title: str, height: int, pct: bool) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}}, height=height,
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.15}, colorway=PALETTE, plot_bgcolor="white",
        yaxis={"gridcolor": "#eee", "tickformat": ".0%" if pct else None},
    )
    return fig


def bars(df: pd.DataFrame, x: str, y: str | list[str], *, color: str | None = None, title: str = "",
         horizontal: bool = False, stacked: bool = True, pct: bool = False, height: int = 320) -> go.Figure:
    """Bars of ``y`` by ``x``: one series per ``color`` value, or per column when ``y`` is a list."""
    if color:
        series = [(str(k), g[x], g[y]) for k, g in df.groupby(color, sort=False)]
    else:
        series = [(c, df[x], df[c]) for c in ([y] if isinstance(y, str) else y)]
    traces = [go.Bar(name=name, x=ys if horizontal else xs, y=xs if horizontal else ys,
                     orientation="h" if horizontal else "v") for name, xs, ys in series]
    fig = go.Figure(traces)
    fig.update_layout(barmode="stack" if stacked else "group", showlegend=len(traces) > 1)
    if horizontal:
        fig.update_layout(yaxis={"categoryorder": "total ascending"})
    return _layout(fig, title, height, pct)


def lines(df: pd.DataFrame, x: str, ys: list[str], *, title: str = "", pct: bool = False,
          height: int = 320) -> go.Figure:
    """One line with markers per column in ``ys``."""
    fig = go.Figure([go.Scatter(name=c, x=df[x], y=df[c], mode="lines+markers") for c in ys])
    return _layout(fig, title, height, pct)
