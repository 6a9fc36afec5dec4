"""Server-rendered SVG charts for the admin: no JavaScript, no CDN, readable without a browser plug-in."""

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 220
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 48, 28, 12
SERIES_COLOURS = ("#417690", "#e0a030")  # the admin's header blue, then amber


def daily_bars(days: list[date], series: dict[str, dict[date, int]], title: str) -> SafeString:
    """Grouped bars per day, one colour per series ({label: {day: count}}), with a y axis and a legend."""
    plot_width = WIDTH - MARGIN_LEFT - 8
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    highest = max([1, *(count for counts in series.values() for count in counts.values())])
    top = -(-highest // 4) * 4  # a multiple of 4: every tick of the y axis is a whole number
    slot = plot_width / max(len(days), 1)
    bar = max(1.0, slot * 0.8 / max(len(series), 1))
    bars = []
    for s, (label, counts) in enumerate(series.items()):
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        for d, day in enumerate(days):
            count = counts.get(day, 0)
            height = plot_height * count / top
            x = MARGIN_LEFT + d * slot + slot * 0.1 + s * bar
            y = MARGIN_TOP + plot_height - height
            bars.append(
                (f"{x:.1f}", f"{y:.1f}", f"{bar:.1f}", f"{height:.1f}", colour, f"{day:%a %d %b}: {count:,} {label}")
            )
    ticks = [(f"{MARGIN_TOP + plot_height * (1 - i / 4):.1f}", f"{top * i // 4:,}") for i in range(5)]
    labels = [(f"{MARGIN_LEFT + d * slot + slot / 2:.1f}", f"{day:%d %b}") for d, day in enumerate(days) if d % 5 == 0]
    legend = [
        (
            f"{MARGIN_LEFT + 10 + s * 140}",
            SERIES_COLOURS[s % len(SERIES_COLOURS)],
            f"{MARGIN_LEFT + 24 + s * 140}",
            label,
        )
        for s, label in enumerate(series)
    ]
    return format_html(
        '<svg class="gova-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
        "<title>{}</title>{}{}{}{}</svg>",
        title, WIDTH, HEIGHT + 18, WIDTH, HEIGHT + 18, title,
        format_html_join(
            "", '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>',
            ((MARGIN_LEFT, WIDTH - 8, y, y, MARGIN_LEFT - 4, y, text) for y, text in ticks),
        ),
        format_html_join(
            "", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>', bars
        ),
        format_html_join(
            "", '<text x="{}" y="{}" text-anchor="middle">{}</text>',
            ((x, HEIGHT - MARGIN_BOTTOM + 16, text) for x, text in labels),
        ),
        format_html_join(
            "", '<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>',
            ((x, HEIGHT + 6, colour, text_x, HEIGHT + 15, label) for x, colour, text_x, label in legend),
        ),
    )  # fmt: skip


def horizontal_bars(rows: list[tuple[str, int]], title: str) -> SafeString:
    """One bar per (label, count), for small distributions such as severity bands."""
    top = max([1, *(count for _, count in rows)])
    row_height, label_width, bar_width = 22, 150, 360
    items = [
        (
            label, f"{10 + i * row_height + 14}", f"{10 + i * row_height + 3}",
            f"{max(1, bar_width * count / top):.1f}", f"{count:,}", f"{label_width + bar_width * count / top + 6:.1f}",
        )
        for i, (label, count) in enumerate(rows)
    ]  # fmt: skip
    height = 20 + row_height * len(rows)
    return format_html(
        '<svg class="gova-chart" role="img" aria-label="{}" viewBox="0 0 600 {}" width="600" height="{}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11"><title>{}</title>{}</svg>',
        title, height, height, title,
        format_html_join(
            "",
            '<text x="0" y="{1}">{0}</text><rect x="' + str(label_width) + '" y="{2}" width="{3}" height="14" '
            'fill="#417690"/><text x="{5}" y="{1}">{4}</text>',
            items,
        ),
    )  # fmt: skip
