"""Plotly charts for the pages, built with graph_objects (several times faster than
plotly.express, which matters on every rerun) in one consistent style: every chart has axis
titles with units and legends in plain words."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#d9480f", "#1c7ed6", "#37b24d", "#f59f00", "#7048e8", "#0ca678", "#e64980", "#868e96"]
PREVIOUS = "#adb5bd"


def _layout(fig: go.Figure, title: str, height: int, pct: bool, x_title: str, y_title: str) -> go.Figure:
    dates = x_title == "Date"  # one line of ticks ("6 Dec"), so the axis title and legend fit below
    fig.update_layout(
        title={"text": title, "font": {"size": 15}}, height=height,
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.3 if dates else -0.25, "yanchor": "top"}, colorway=PALETTE,
        plot_bgcolor="white",
        xaxis={"title": {"text": x_title, "standoff": 4}, "tickformat": "%-d %b" if dates else None},
        yaxis={"gridcolor": "#eee", "tickformat": ".0%" if pct else None, "title": {"text": y_title},
               "rangemode": "tozero"},
    )
    return fig


def bars(df: pd.DataFrame, x: str, y: str | list[str], *, color: str | None = None, title: str = "",
         horizontal: bool = False, stacked: bool = True, pct: bool = False, height: int = 320,
         x_title: str = "", y_title: str = "", names: dict[str, str] | None = None) -> go.Figure:
    """Bars of ``y`` by ``x``: one series per ``color`` value, or per column when ``y`` is a list
    (``names`` gives each series its plain name)."""
    names = names or {}
    if color:
        series = [(str(k), g[x], g[y]) for k, g in df.groupby(color, sort=False)]
    else:
        series = [(c, df[x], df[c]) for c in ([y] if isinstance(y, str) else y)]
    traces = [go.Bar(name=names.get(name, name), x=ys if horizontal else xs, y=xs if horizontal else ys,
                     orientation="h" if horizontal else "v") for name, xs, ys in series]
    fig = go.Figure(traces)
    fig.update_layout(barmode="stack" if stacked else "group", showlegend=len(traces) > 1)
    if horizontal:
        fig.update_layout(yaxis={"categoryorder": "total ascending"})
        x_title, y_title = y_title, x_title
    return _layout(fig, title, height, pct and not horizontal, x_title, y_title)


def lines(df: pd.DataFrame, x: str, ys: list[str], *, title: str = "", pct: bool = False,
          height: int = 320, x_title: str = "", y_title: str = "",
          names: dict[str, str] | None = None) -> go.Figure:
    """One line with markers per column in ``ys``."""
    names = names or {}
    fig = go.Figure([go.Scatter(name=names.get(c, c), x=df[x], y=df[c], mode="lines+markers") for c in ys])
    return _layout(fig, title, height, pct, x_title, y_title)


def trends(current: pd.DataFrame, previous: pd.DataFrame, panels: list[tuple[str, str, str, bool]], *,
           cols: int = 3, height: int = 560) -> go.Figure:
    """Daily trends of several columns in one figure (one chart for the browser to draw, not one
    per metric): this period solid, the previous period grey dotted (day i of the previous period
    over day i of this one; the hover names its date). ``panels`` are ``(column, title, y-axis
    title, pct)``; one legend for them all. The grid is laid out by hand: ``make_subplots`` costs
    ten times more on every rerun."""
    rows = -(-len(panels) // cols)
    cell_w, cell_h = 1 / cols, 1 / rows
    x = list(current["date"])
    data: list[dict] = []
    layout: dict = {"height": height, "margin": {"t": 40, "b": 10, "l": 10, "r": 10}, "plot_bgcolor": "white",
                    "legend": {"orientation": "h", "y": 1.06, "x": 1, "xanchor": "right"}, "annotations": []}
    for i, (column, title, y_title, pct) in enumerate(panels):
        row, col = divmod(i, cols)
        n = "" if i == 0 else str(i + 1)
        x0, x1 = col * cell_w + 0.045, (col + 1) * cell_w - 0.02
        y1 = 1 - row * cell_h - 0.06
        y0 = y1 - cell_h + 0.2
        layout[f"xaxis{n}"] = {"domain": [x0, x1], "anchor": f"y{n}", "tickformat": "%-d %b",
                               "title": {"text": "Date", "standoff": 4}}
        layout[f"yaxis{n}"] = {"domain": [y0, y1], "anchor": f"x{n}", "title": {"text": y_title},
                               "tickformat": ".0%" if pct else None, "rangemode": "tozero",
                               "gridcolor": "#eee"}
        layout["annotations"].append({"text": f"<b>{title}</b>", "xref": "paper", "yref": "paper",
                                      "x": x0, "xanchor": "left", "y": y1 + 0.01, "yanchor": "bottom",
                                      "showarrow": False})
        data.append({"type": "scatter", "name": "this period", "x": x, "y": list(current[column]),
                     "mode": "lines+markers", "line": {"color": PALETTE[1]}, "xaxis": f"x{n}",
                     "yaxis": f"y{n}", "legendgroup": "now", "showlegend": i == 0})
        data.append({"type": "scatter", "name": "previous period", "x": x, "y": list(previous[column]),
                     "mode": "lines", "line": {"color": PREVIOUS, "dash": "dot"}, "xaxis": f"x{n}",
                     "yaxis": f"y{n}", "customdata": list(previous["date"]), "legendgroup": "before",
                     "hovertemplate": "%{customdata}: %{y}<extra>previous period</extra>",
                     "showlegend": i == 0})
    return go.Figure(data=data, layout=layout)
