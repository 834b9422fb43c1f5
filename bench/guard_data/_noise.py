# ruff: noqa: E501  (template text: one document line per source line reads better than wrapped strings)
"""Unlabelled values that look like personal data to a careless detector (hard negatives):
dates, times, amounts, order and part numbers, JAN codes, tracking numbers, versions,
log key=value pairs, stations, shops. None of them is personal data.
"""

from __future__ import annotations

import random

from _pools import BIG_COMPANIES, SHOPS, STATIONS
from _values import digits, isbn13, jan13, yamato_number, zen


def date(r: random.Random, style: str | None = None) -> str:
    y, m, d = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    styles = {
        "iso": f"{y}-{m:02d}-{d:02d}",
        "compact": f"{y}{m:02d}{d:02d}",
        "slash": f"{y}/{m:02d}/{d:02d}",
        "slash_short": f"{y}/{m}/{d}",
        "ja": f"{y}年{m}月{d}日",
        "reiwa": f"令和{y - 2018}年{m}月{d}日",
        "zen": zen(f"{y}/{m:02d}/{d:02d}"),
        "dot": f"{y}.{m:02d}.{d:02d}",
    }
    style = style or r.choices(list(styles), weights=(20, 8, 18, 8, 30, 6, 4, 6))[0]
    return styles[style]


def date_range(r: random.Random, style: str = "ja", max_days: int = 400) -> tuple[str, str]:
    """Two dates in order, at most ``max_days`` apart, written alike."""
    import datetime as dt

    start = dt.date(r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28))
    end = start + dt.timedelta(days=r.randint(1, max_days))

    def show(x: dt.date) -> str:
        return {"ja": f"{x.year}年{x.month}月{x.day}日", "slash": f"{x.year}/{x.month:02d}/{x.day:02d}",
                "iso": x.isoformat()}[style]

    return show(start), show(end)


def time_range(r: random.Random) -> tuple[str, str]:
    h = r.randint(8, 18)
    m = r.choice((0, 30))
    h2, m2 = h + r.randint(1, 3), r.choice((0, 30))
    return f"{h}:{m:02d}", f"{h2}:{m2:02d}"


def birthdate(r: random.Random) -> str:
    y, m, d = r.randint(1950, 2004), r.randint(1, 12), r.randint(1, 28)
    return r.choice((f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{y}-{m:02d}-{d:02d}",
                     f"昭和{y - 1925}年{m}月{d}日" if y < 1989 else f"平成{y - 1988}年{m}月{d}日", f"{y}{m:02d}{d:02d}"))


def time_(r: random.Random) -> str:
    h, m = r.randint(8, 21), r.choice((0, 0, 15, 30, 45, r.randint(0, 59)))
    return r.choice((f"{h}:{m:02d}", f"{h}時{m:02d}分" if m else f"{h}時", f"{h:02d}:{m:02d}"))


def amount(r: random.Random, lo: int = 100, hi: int = 3_000_000) -> str:
    v = r.randint(lo, hi)
    if v > 1000:
        v = v // 10 * 10
    return r.choice((f"{v:,}円", f"¥{v:,}", f"{v:,} 円", f"￥{v:,}", f"{v}円", f"金{v:,}円"))


def order_no(r: random.Random) -> str:
    return r.choice((f"ORD-{r.randint(2021, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}-{r.randint(1, 9999):04d}",
                     f"{r.randint(100, 999)}-{digits(r, 7)}-{digits(r, 7)}",  # online-store style
                     f"A{digits(r, 9)}", f"SO{digits(r, 8)}", f"#{digits(r, 6)}",
                     f"{r.randint(2021, 2026)}-{digits(r, 6)}", f"W{digits(r, 10)}"))


def part_no(r: random.Random) -> str:
    return r.choice((f"{r.choice('ABCDEFKMNPRSTX')}{r.choice('ABCDEFKMNPRSTX')}-{digits(r, 4)}-{digits(r, 3)}",
                     f"{digits(r, 2, '123456789')}-{digits(r, 4)}-{digits(r, 4)}",
                     f"P{digits(r, 3)}-{digits(r, 5)}", f"{digits(r, 4)}-{digits(r, 4)}-{digits(r, 2)}",
                     f"KX-{r.choice(('TS', 'PW', 'FX'))}{digits(r, 3)}-{r.choice('WBK')}",
                     f"0{digits(r, 3)}-{digits(r, 4)}-{digits(r, 3)}"))


def ticket_no(r: random.Random) -> str:
    return r.choice((f"INC{digits(r, 7)}", f"REQ-{digits(r, 5)}", f"#{digits(r, 5)}", f"CS-{r.randint(2022, 2026)}-{digits(r, 6)}",
                     f"JIRA-{r.choice(('OPS', 'WEB', 'PAY', 'HR'))}-{r.randint(10, 9999)}"))


def invoice_doc_no(r: random.Random) -> str:
    return r.choice((f"INV-{r.randint(2022, 2026)}-{digits(r, 5)}", f"No.{digits(r, 8)}", f"請{digits(r, 6)}",
                     f"{r.randint(2022, 2026)}{r.randint(1, 12):02d}-{digits(r, 4)}"))


def version(r: random.Random) -> str:
    a, b, c = r.randint(0, 12), r.randint(0, 40), r.randint(0, 30)
    return r.choice((f"v{a}.{b}.{c}", f"{a}.{b}.{c}", f"{a}.{b}.{c}-rc{r.randint(1, 4)}", f"ver.{a}.{b}",
                     f"{a}.{b}.{c}+build.{digits(r, 8)}", f"{r.randint(2022, 2026)}.{r.randint(1, 12):02d}.{r.randint(1, 9)}"))


def jan(r: random.Random) -> str:
    return jan13(r)


def isbn(r: random.Random) -> str:
    return isbn13(r)


def tracking(r: random.Random) -> str:
    n = yamato_number(r)
    return r.choice((n, f"{n[:4]}-{n[4:8]}-{n[8:]}"))


def hexid(r: random.Random, k: int = 8) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(k))


def station(r: random.Random) -> str:
    return r.choice(STATIONS)


def shop(r: random.Random) -> str:
    return r.choice(SHOPS)


def big_company(r: random.Random) -> str:
    return r.choice(BIG_COMPANIES)


def percent(r: random.Random) -> str:
    return f"{r.uniform(-30, 60):.1f}%"


def insurer_no(r: random.Random) -> str:
    return r.choice(("0" + digits(r, 7), "06" + digits(r, 6), "31" + digits(r, 6), "39" + digits(r, 6)))


def log_line(r: random.Random, ts: str, level: str, service: str, msg: str) -> str:
    return f"{ts} {level:<5} [{service}] {msg}"


def timestamp(r: random.Random) -> str:
    y, mo, d = r.randint(2024, 2026), r.randint(1, 12), r.randint(1, 28)
    h, mi, s, ms = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999)
    return r.choice((f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}+09:00",
                     f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{ms:03d}",
                     f"{y}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}:{s:02d}"))


def kv_noise(r: random.Random) -> str:
    """A few key=value pairs with long numbers that are ids, sizes and counters."""
    pairs = [
        f"req_id={r.choice((hexid(r, 16), digits(r, 12), digits(r, 16), hexid(r, 8) + '-' + hexid(r, 4)))}",
        f"bytes={r.choice((digits(r, r.randint(3, 7)), digits(r, 12), digits(r, 13)))}",
        f"lag={r.choice((digits(r, r.randint(1, 5)), digits(r, 13)))}",
        f"trace_id={digits(r, 16)}",
        f"span_id={hexid(r, 16)}",
        f"offset={digits(r, r.randint(8, 14))}",
        f"duration_ms={r.randint(1, 9999)}",
        f"seq={digits(r, 12)}",
        f"shard={r.randint(0, 63)}",
        f"order_id={digits(r, 13)}",
        f"session={hexid(r, 24)}",
        f"ts={r.randint(1_700_000_000_000, 1_800_000_000_000)}",
        f"rows={r.randint(0, 500000)}",
        f"checksum={digits(r, 10)}",
        f"account_seq={digits(r, 7)}",
    ]
    return " ".join(r.sample(pairs, r.randint(2, 5)))
