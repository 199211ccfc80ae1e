"""``emusify report``: one self-contained HTML page that shows whether the music helps.

Everything comes from the history database; the charts are drawn with matplotlib (Agg, no
display) and embedded as PNG data, so the page is one file that opens anywhere, offline.

Readings. A check that decided a mood is a reading; when the listener corrected it, the
corrected mood is the reading (the listener knows better). A mood set by hand that corrected
no check is a reading too.

Better or worse. The emotions are ordered by valence, from unpleasant to pleasant::

    angry = disgust (-2) < fear = sad (-1) < neutral (0) < surprise (1) < happy (2)

Emotions of a personal model that are not in this list (e.g. "calm") count as neutral. After
each reading, the folder that played longest until the next reading (at most
``HELP_GAP_HOURS`` later, else the pair is not compared) is credited with the change: the
next reading was better (higher valence), the same, or worse.

The daemon never imports this module (it runs ``python -m emusify report`` in a child
process), so matplotlib never loads into the long-running process.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from emusify import __version__
from emusify.history import History

log = logging.getLogger(__name__)

#: Valence of each emotion, for "better" and "worse" (see the module docstring).
VALENCE = {
    "angry": -2,
    "disgust": -2,
    "fear": -1,
    "sad": -1,
    "neutral": 0,
    "surprise": 1,
    "happy": 2,
}
#: Readings further apart than this are not compared (the person was away in between).
HELP_GAP_HOURS = 2.0
#: One colour per emotion, the same in every chart.
COLOURS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "sad": "#1f77b4",
    "neutral": "#7f7f7f",
    "surprise": "#ff7f0e",
    "happy": "#2ca02c",
}
OUTCOME_COLOURS = {"better": "#2ca02c", "same": "#bdbdbd", "worse": "#d62728"}
#: Chart titles, in the order the page shows them (the test looks for each).
CHARTS = (
    "Mood over time",
    "Share of each mood per day",
    "Folders and tracks played per mood",
    "Does the music help?",
    "Corrections",
    "Most liked and disliked tracks",
)


def valence(emotion: str) -> int:
    return VALENCE.get(emotion, 0)


@dataclass(frozen=True)
class Reading:
    time: float
    emotion: str
    #: "check", "corrected" (a check the listener corrected; ``read`` is what it said) or "set".
    source: str
    read: str | None = None


@dataclass(frozen=True)
class Play:
    time: float
    end: float
    path: str
    folder: str
    emotion: str | None


@dataclass
class ReportData:
    since: float
    until: float
    checks: int = 0  #: every check, decided or not
    readings: list[Reading] = field(default_factory=list)
    plays: list[Play] = field(default_factory=list)
    #: (read, corrected) of each correction
    corrections: list[tuple[str, str]] = field(default_factory=list)
    #: (path, rating, emotion) of each like or dislike
    ratings: list[tuple[str, int, str | None]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.checks or self.readings or self.plays or self.ratings)

    @classmethod
    def load(cls, history: History, since: float = 0.0, now: float | None = None) -> ReportData:
        now = time.time() if now is None else now
        data = cls(since=since, until=now)
        windows = history.windows(since)
        corrections = history.corrections(since)
        by_window = {c.window_id: c for c in corrections if c.window_id is not None}
        data.checks = len(windows)
        for w in windows:
            if w.outcome != "mood" or not w.emotion:
                continue
            c = by_window.get(w.id)
            if c is not None:
                data.readings.append(Reading(w.time, c.emotion, "corrected", w.emotion))
            else:
                data.readings.append(Reading(w.time, w.emotion, "check"))
        correction_times = {round(c.time, 3) for c in corrections}
        for m in history.moods_set(since):
            if m.emotion and round(m.time, 3) not in correction_times:
                data.readings.append(Reading(m.time, m.emotion, "set"))
        data.readings.sort(key=lambda r: r.time)
        data.corrections = [(c.read, c.emotion) for c in corrections]
        rows = history.plays(since)
        for i, p in enumerate(rows):
            following = rows[i + 1].time if i + 1 < len(rows) else now
            end = p.ended_time if p.ended_time is not None else following
            data.plays.append(Play(p.time, max(p.time, end), p.path, p.folder, p.emotion))
        data.ratings = [(r.path, r.rating, r.emotion) for r in history.rating_rows(since)]
        return data

    # --- the figures behind the charts ----------------------------------------------------

    def share_per_day(self) -> dict[date, Counter[str]]:
        days: dict[date, Counter[str]] = defaultdict(Counter)
        for r in self.readings:
            days[datetime.fromtimestamp(r.time).date()][r.emotion] += 1
        return dict(sorted(days.items()))

    def folders_per_mood(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for p in self.plays:
            out[p.emotion or "unknown"][p.folder] += 1
        return dict(out)

    def tracks_per_mood(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for p in self.plays:
            out[p.emotion or "unknown"][track_name(p.path)] += 1
        return dict(out)

    def folder_during(self, start: float, end: float) -> str | None:
        """The folder that played longest between two readings."""
        heard: Counter[str] = Counter()
        for p in self.plays:
            overlap = min(p.end, end) - max(p.time, start)
            if overlap > 0:
                heard[p.folder] += overlap
        return heard.most_common(1)[0][0] if heard else None

    def does_it_help(self) -> dict[str, Counter[str]]:
        """Folder -> how often the next reading was better, the same or worse."""
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for a, b in itertools.pairwise(self.readings):
            if b.time - a.time > HELP_GAP_HOURS * 3600:
                continue
            folder = self.folder_during(a.time, b.time)
            if folder is None:
                continue
            change = valence(b.emotion) - valence(a.emotion)
            out[folder]["better" if change > 0 else "worse" if change < 0 else "same"] += 1
        return dict(sorted(out.items()))

    def liked(self) -> list[tuple[str, int, int, Counter[str]]]:
        """(track, likes, dislikes, moods of the ratings), most rated first."""
        likes: Counter[str] = Counter()
        dislikes: Counter[str] = Counter()
        moods: dict[str, Counter[str]] = defaultdict(Counter)
        for path, rating, emotion in self.ratings:
            name = track_name(path)
            (likes if rating > 0 else dislikes)[name] += 1
            moods[name][emotion or "any mood"] += 1
        names = sorted(set(likes) | set(dislikes), key=lambda n: (-likes[n] - dislikes[n], n))
        return [(n, likes[n], dislikes[n], moods[n]) for n in names]


def track_name(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem


# --- charts -------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    """The finished chart as base64 PNG, laid out first so no label is cut off."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _emotions(names: set[str]) -> list[str]:
    """Emotions ordered by valence, unpleasant first (unknown names among the neutral ones)."""
    return sorted(names, key=lambda e: (valence(e), e))


def _colour(emotion: str) -> str:
    return COLOURS.get(emotion, "#17becf")


def _folder_colours(folders: list[str]) -> dict[str, str]:
    """A folder named like an emotion gets that emotion's colour; others get their own."""
    spare = iter(["#17becf", "#bcbd22", "#e377c2", "#aec7e8", "#ffbb78", "#98df8a"] * 10)
    return {f: COLOURS[f] if f in COLOURS else next(spare) for f in folders}


def _legend_beside(ax: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _stacked_bars(
    ax: Any,
    counts: dict[str, Counter[str]],
    rows: list[str],
    parts: list[str],
    colours: dict[str, str],
    fontsize: int,
) -> list[int]:
    """One horizontal bar per row, a segment per part with its count written on it; returns
    each row's total (where its bar ends)."""
    ends = [0] * len(rows)
    for part in parts:
        ns = [counts[row][part] for row in rows]
        ax.barh(rows, ns, left=ends, color=colours[part], label=part)
        for y, (x0, n) in enumerate(zip(ends, ns, strict=True)):
            if n:
                ax.text(x0 + n / 2, y, str(n), ha="center", va="center", fontsize=fontsize)
        ends = [a + b for a, b in zip(ends, ns, strict=True)]
    return ends


def _count_grid(
    ax: Any, grid: list[list[int]], columns: list[str], rows: list[str], cmap: str, fontsize: int
) -> None:
    """A heat map of counts, each non-zero cell with its number."""
    ax.imshow(grid or [[0]], cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for y, row in enumerate(grid):
        for x, n in enumerate(row):
            if n:
                ax.text(x, y, str(n), ha="center", va="center", fontsize=fontsize)


def chart_mood_over_time(data: ReportData) -> str:
    plt = _pyplot()
    import matplotlib.dates as mdates

    emotions = _emotions(
        {r.emotion for r in data.readings} | {r.read for r in data.readings if r.read}
    )
    row = {e: i for i, e in enumerate(emotions)}
    fig, ax = plt.subplots(figsize=(9, 3.6))
    times = [datetime.fromtimestamp(r.time) for r in data.readings]
    ax.plot(times, [row[r.emotion] for r in data.readings], color="#cccccc", lw=0.8, zorder=1)
    for source, marker, label in (
        ("check", "o", "check"),
        ("set", "D", "set by hand"),
        ("corrected", "*", "corrected check"),
    ):
        picked = [r for r in data.readings if r.source == source]
        if not picked:
            continue
        ax.scatter(
            [datetime.fromtimestamp(r.time) for r in picked],
            [row[r.emotion] for r in picked],
            c=[_colour(r.emotion) for r in picked],
            marker=marker,
            s=60 if marker == "*" else 22,
            label=label,
            zorder=3,
            edgecolors="black" if source != "check" else "none",
            linewidths=0.5,
        )
    corrected = [r for r in data.readings if r.source == "corrected" and r.read in row]
    if corrected:
        ax.scatter(
            [datetime.fromtimestamp(r.time) for r in corrected],
            [row[r.read] for r in corrected],  # type: ignore[index]
            marker="x",
            c="black",
            s=20,
            label="what the check read",
            zorder=2,
        )
    ax.set_yticks(range(len(emotions)), emotions)
    ax.set_ylim(-0.6, len(emotions) - 0.4)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%H:%M"))
    ax.grid(axis="y", color="#eeeeee")
    _legend_beside(ax)
    ax.set_title("Mood at each check (pleasant moods at the top)", fontsize=10)
    return _png(fig)


def chart_share_per_day(data: ReportData) -> str:
    plt = _pyplot()
    days = data.share_per_day()
    emotions = _emotions({e for c in days.values() for e in c})
    fig, ax = plt.subplots(figsize=(9, 3.4))
    labels = [d.strftime("%a %d %b") for d in days]
    bottom = [0.0] * len(days)
    for emotion in reversed(emotions):  # pleasant moods on top
        shares = [c[emotion] / sum(c.values()) for c in days.values()]
        ax.bar(labels, shares, bottom=bottom, color=_colour(emotion), label=emotion)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    for i, c in enumerate(days.values()):
        ax.text(i, 1.02, f"{sum(c.values())}", ha="center", fontsize=8, color="#555555")
    ax.set_ylim(0, 1.1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    _legend_beside(ax)
    ax.set_title("Share of the readings per day (number of readings above each bar)", fontsize=10)
    return _png(fig)


def chart_played_per_mood(data: ReportData) -> str:
    plt = _pyplot()
    folders_by_mood = data.folders_per_mood()
    tracks_by_mood = data.tracks_per_mood()
    moods = _emotions(set(folders_by_mood))
    folders = sorted({f for c in folders_by_mood.values() for f in c})
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9, 0.9 + 0.45 * max(len(moods), 6)), width_ratios=(1, 1.3)
    )
    _stacked_bars(left, folders_by_mood, moods, folders, _folder_colours(folders), fontsize=8)
    left.set_title("Folders played per mood (plays)", fontsize=10)
    left.legend(fontsize=8, frameon=False, loc="lower right")
    tracks = [t for t, _ in sum((tracks_by_mood[m] for m in moods), Counter()).most_common(10)]
    grid = [[tracks_by_mood[m][t] for m in moods] for t in tracks]
    _count_grid(right, grid, moods, tracks, "Oranges", fontsize=7)
    right.set_title("Most played tracks per mood (plays)", fontsize=10)
    return _png(fig)


def chart_does_it_help(data: ReportData) -> str:
    plt = _pyplot()
    helped = data.does_it_help()
    folders = list(helped)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.5 * max(len(folders), 3)))
    outcomes = ["better", "same", "worse"]
    lefts = _stacked_bars(ax, helped, folders, outcomes, OUTCOME_COLOURS, fontsize=9)
    for y, f in enumerate(folders):
        total = sum(helped[f].values())
        better = helped[f]["better"] - helped[f]["worse"]
        ax.text(lefts[y] + 0.2, y, f"n={total}, net {better:+d}", va="center", fontsize=8)
    ax.set_xlim(0, max(lefts, default=1) * 1.25 + 1)
    ax.set_xlabel("next reading compared with the one before (valence order)")
    _legend_beside(ax)
    ax.set_title("Mood at the next check after each folder", fontsize=10)
    return _png(fig)


def chart_corrections(data: ReportData) -> str:
    plt = _pyplot()
    read = _emotions({r for r, _ in data.corrections})
    said = _emotions({c for _, c in data.corrections})
    counts = Counter(data.corrections)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 0.9 + 0.45 * max(len(read), 5)))
    decided = Counter(r.read or r.emotion for r in data.readings if r.source != "set")
    rates = [counts_for(counts, r) / max(decided[r], 1) for r in read]
    left.barh(read, rates, color=[_colour(r) for r in read])
    for y, r in enumerate(read):
        n = counts_for(counts, r)
        left.text(rates[y], y, f" {n} of {decided[r]}", va="center", fontsize=8)
    left.set_xlim(0, max(rates, default=0) * 1.4 + 0.05)
    left.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    left.set_title("How often each reading was corrected", fontsize=10)
    grid = [[counts[(r, s)] for s in said] for r in read]
    _count_grid(right, grid, said, read, "Purples", fontsize=9)
    right.set_xlabel("the listener said")
    right.set_ylabel("the check read")
    right.set_title("How each reading was corrected", fontsize=10)
    return _png(fig)


def counts_for(counts: Counter[tuple[str, str]], read: str) -> int:
    return sum(n for (r, _), n in counts.items() if r == read)


def chart_liked(data: ReportData) -> str:
    plt = _pyplot()
    rows = data.liked()[:12]
    names = [f"{n} ({', '.join(sorted(m))})" for n, _, _, m in rows]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.4 * max(len(rows), 3)))
    ax.barh(names, [r[1] for r in rows], color=OUTCOME_COLOURS["better"], label="likes")
    ax.barh(names, [-r[2] for r in rows], color=OUTCOME_COLOURS["worse"], label="dislikes")
    for y, (_, likes, dislikes, _) in enumerate(rows):
        if likes:
            ax.text(likes, y, f" {likes}", va="center", fontsize=8)
        if dislikes:
            ax.text(-dislikes, y, f"{dislikes} ", va="center", ha="right", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    peak = max([r[1] for r in rows] + [r[2] for r in rows] + [1])
    ax.set_xlim(-peak * 1.3, peak * 1.3)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{abs(v):.0f}"))
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title("Likes and dislikes per track (moods they were given in)", fontsize=10)
    return _png(fig)


# --- the page -----------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; max-width: 960px; margin: 1.5em auto; color: #222;
       background: #fff; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.3em; border-bottom: 1px solid #ddd; }
p.note { color: #555; font-size: 0.92em; margin: 0.2em 0 0.6em; }
img.chart { display: block; width: 900px; max-width: 100%; }
table.summary td { padding: 0.1em 1.2em 0.1em 0; }
.empty { font-size: 1.1em; padding: 1em; background: #f6f6f6; border-radius: 6px; }
"""


def _when(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def build_html(data: ReportData) -> str:
    """The whole page; charts only for what the history holds."""
    head = (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Emusify report</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>Emusify report</h1>\n<p class='note'>From {_when(data.since)} to "
        f"{_when(data.until)}; made by Emusify {html.escape(__version__)}.</p>\n"
    )
    if data.empty:
        return head + (
            "<p class='empty'>No history yet for this period: Emusify has not checked your "
            "mood or played anything since then. Let <code>emusify run</code> work for a "
            "while (or pick an earlier <code>--since</code> date), then make the report "
            "again.</p>\n</body></html>\n"
        )
    helped = data.does_it_help()
    better = sum(c["better"] for c in helped.values())
    worse = sum(c["worse"] for c in helped.values())
    same = sum(c["same"] for c in helped.values())
    likes = sum(1 for _, r, _ in data.ratings if r > 0)
    summary = [
        ("Mood checks", f"{data.checks} ({sum(r.source != 'set' for r in data.readings)} decided)"),
        ("Moods set by hand", str(sum(r.source == "set" for r in data.readings))),
        ("Corrections", str(len(data.corrections))),
        ("Tracks played", str(len(data.plays))),
        ("After the music, the next mood was", f"better {better}, same {same}, worse {worse}"),
        ("Likes / dislikes", f"{likes} / {len(data.ratings) - likes}"),
    ]
    rows = "".join(f"<tr><td>{k}</td><td><b>{html.escape(v)}</b></td></tr>" for k, v in summary)
    parts = [head, f"<table class='summary'>{rows}</table>\n"]
    notes = {
        "Mood over time": "Each reading: a check's mood (dot), a check you corrected (star, "
        "with a cross where the check read it) or a mood you set by hand (diamond).",
        "Share of each mood per day": "How the readings of each day split between the moods.",
        "Folders and tracks played per mood": "What played while you were in each mood.",
        "Does the music help?": "For each folder: was the next reading (at most "
        f"{HELP_GAP_HOURS:g} h later) better, the same or worse than the one before, in the "
        "order angry = disgust &lt; fear = sad &lt; neutral &lt; surprise &lt; happy?",
        "Corrections": "Checks you corrected by setting the mood by hand soon after.",
        "Most liked and disliked tracks": "Each like or dislike counts for the mood it was "
        "given in.",
    }
    charts = {
        "Mood over time": (chart_mood_over_time, bool(data.readings)),
        "Share of each mood per day": (chart_share_per_day, bool(data.readings)),
        "Folders and tracks played per mood": (chart_played_per_mood, bool(data.plays)),
        "Does the music help?": (chart_does_it_help, bool(helped)),
        "Corrections": (chart_corrections, bool(data.corrections)),
        "Most liked and disliked tracks": (chart_liked, bool(data.ratings)),
    }
    for title in CHARTS:
        draw, has_data = charts[title]
        parts.append(f"<h2>{title}</h2>\n<p class='note'>{notes[title]}</p>\n")
        if has_data:
            png = draw(data)
            parts.append(
                f"<img class='chart' alt='{html.escape(title)}' "
                f"src='data:image/png;base64,{png}'>\n"
            )
        else:
            parts.append("<p class='empty'>Nothing to show for this period yet.</p>\n")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_report(history: History, out: Path, since: float = 0.0) -> ReportData:
    """Write the page to ``out`` (through a temporary file, so a reader never sees half)."""
    data = ReportData.load(history, since)
    page = build_html(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return data
