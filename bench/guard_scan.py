"""Guard benchmark: scan rate on mixed Japanese/English text, the gateway's added latency,
repeated-pattern (adversarial) cost, and the person-name analyser choice.

    .venv/bin/python bench/guard_scan.py [--mb 8] [--iterations 2000] [--gateway N]
    .venv/bin/python bench/guard_scan.py --adversarial [--adv-kb 1000] [--policy NAME ...]
    .venv/bin/python bench/guard_scan.py --analysers

Prints, measured side by side in one run on one core (one Python thread):

* scan rate (MB/s of UTF-8 input) on mixed JA/EN business text with typical PII density
  (about one finding per 2 KB: phones, My Numbers, names with honorifics, addresses …),
  PII-dense text (one per ~150 bytes), and typical text holding full-width Latin (ＰＤＦ:
  the NFKC-copy path), for two policies: ``standard`` (every detector, names and
  addresses included) and ``structured`` (the same with ``pii.person_name`` and
  ``pii.address_jp`` allowed, so they do not run), next to ``unicodedata.normalize``;
* added gateway latency for a 4 KB prompt: p50/p99 of ``GatewayGuard.check_input``
  (scan + mask + body rewrite) for both policies, in milliseconds;
* the streaming filter's cost per 3-character delta (µs).

The name analyser's sentence cache (``prai.guard._names.UNIT_CACHE_SIZE``) is off for the
scan rates, the latency and ``--adversarial`` (the corpus repeats a few sentences; the
latency loop repeats one prompt) and on for the stream, whose window it serves.

With ``--gateway N`` it also runs a real ``prai gateway`` in front of the loopback upstream
tests/_support/fake_openai.py --echo with two projects — one with ``guard_policy: standard``, one
without — sends N requests of each (interleaved, 4 KB prompts with PII, one connection)
and compares the gateway's own time (``x-prai-gateway-ms``, which excludes the upstream).

``--adversarial``: every pattern of :data:`ADVERSARIAL` repeated to ``--adv-kb`` KB, and
every text of :data:`NUMBERS` (random numbers where nothing repeats) of that size, scanned
by every policy (or those named by ``--policy``: ``standard``, ``structured``, ``names`` —
names on, addresses allowed —, ``addresses`` — the reverse); per-KB CPU time against the
same policy's typical text (best of 3). A pattern over 10x is measured twice more and
counts by its best run (a shared machine preempts single runs). Exits 1 when a pattern
costs more than 10x (issue 19's goal).

``--analysers``: fugashi + unidic-lite against SudachiPy + sudachidict_core (when
installed) on the same text: MB/s of tagging and agreement of their person-name tags.

Goals: standard (names + addresses) >= 1 MB/s per core on mixed text and p99 <= 5 ms for a
4 KB prompt (issue 15); structured-only >= 20 MB/s per core (issue 5); every repeated
pattern <= 10x the per-KB time of typical text (issue 19).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import unicodedata

from prai.gateway.guard_hook import GuardContext
from prai.guard.gateway_plugin import GatewayGuard
from prai.guard.policy import Guardrails
from prai.guard.stream import TextFilter

JA = [
    "本日の定例会議では、来期の事業計画と予算配分について議論しました。",
    "各部門の責任者は、来週金曜日までに進捗報告書を提出してください。",
    "新しい基幹システムへの移行は、第3四半期中に完了する見込みです。",
    "お客様からのお問い合わせには、原則として二営業日以内に回答します。",
    "情報セキュリティ研修の受講は全社員の必須事項となっております。",
    "（参考）前年度比で売上高は１２％増加し、営業利益も改善しました。",
    "詳細は添付資料をご確認のうえ、ご不明な点があればご連絡ください。",
]
EN = [
    "The quarterly review covered revenue, operating costs and hiring plans for 2027. ",
    "Please submit your expense reports by the end of the month to avoid delays. ",
    "Our team will migrate the legacy database to the new cluster next week. ",
    "Model latency improved by 18% after enabling prefix caching on the GPU nodes. ",
    "Refer to section 4.2 of the runbook for the rollback procedure. ",
]
def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _my_number(r: random.Random) -> str:
    body = _digits(r, 11)
    total = sum(int(body[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    check = 0 if total % 11 <= 1 else 11 - total % 11
    return f"{body[:4]} {body[4:8]} {body[8:]}{check}"


def _card(r: random.Random) -> str:
    body = "4" + _digits(r, 14)
    for c in "0123456789":
        d = body + c
        s = sum((int(x) * 2 - 9 if int(x) * 2 > 9 else int(x) * 2) if i % 2 else int(x)
                for i, x in enumerate(reversed(d)))
        if s % 10 == 0:
            return " ".join(d[i : i + 4] for i in range(0, 16, 4))
    raise AssertionError


# Every PII item is drawn fresh (no repeated numbers: validation caches do not flatter).
SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田",
            "山本", "松本", "井上", "木村", "林", "清水", "山崎", "森", "池田", "橋本", "石川"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健太", "由美子", "拓也", "直樹", "陽子", "翔", "愛", "浩二"]
TOWNS = ["東京都港区六本木", "大阪府大阪市北区梅田", "神奈川県横浜市港北区新横浜", "千代田区丸の内",
         "福岡市博多区博多駅前", "札幌市中央区北一条西", "愛知県名古屋市中村区名駅"]

PII = [
    lambda r: f"担当者の連絡先は090-{_digits(r, 4)}-{_digits(r, 4)}です。",
    lambda r: f"{r.choice(SURNAMES)}{r.choice(GIVEN)}様、いつもお世話になっております。",
    lambda r: f"担当：{r.choice(SURNAMES)} {r.choice(GIVEN)}（営業部）",
    lambda r: f"送付先は{r.choice(TOWNS)}{r.randint(1, 9)}-{r.randint(1, 30)}-{r.randint(1, 20)}です。",
    lambda r: f"Regards, {r.choice(['Koji Ishii', 'Sachiko Nishimura', 'Taro Yamada'])}. ",
    lambda r: f"個人番号：{_my_number(r)}",
    lambda r: f"mail: user{_digits(r, 5)}@example.co.jp ",
    lambda r: f"〒{_digits(r, 3)}-{_digits(r, 4)} 東京都千代田区",
    lambda r: f"Card {_card(r)} exp 12/29. ",
    lambda r: f"サーバー 10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)} に接続",
    lambda r: f"電話 {f'0{r.randint(3, 6)}-{_digits(r, 4)}-{_digits(r, 4)}'.translate(FW)} まで",
    lambda r: f"口座番号 {_digits(r, 7)} 普通預金",
]
FW = str.maketrans("0123456789-", "０１２３４５６７８９－")


def corpus(size_bytes: int, pii_every_bytes: int, seed: int = 1) -> str:
    """Mixed JA/EN text of about ``size_bytes`` UTF-8 bytes, one PII item per
    ``pii_every_bytes`` bytes on average."""
    r = random.Random(seed)
    parts: list[str] = []
    n = 0
    next_pii = r.expovariate(1 / pii_every_bytes)
    while n < size_bytes:
        s = r.choice(JA) if r.random() < 0.55 else r.choice(EN)
        if n >= next_pii:
            s = r.choice(PII)(r) + s
            next_pii = n + r.expovariate(1 / pii_every_bytes)
        parts.append(s)
        n += len(s.encode())
        if r.random() < 0.1:
            parts.append("\n")
    return "".join(parts)


def rate(fn, text: str, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best-of-``repeat`` throughput in MB/s (10^6 bytes of UTF-8 input per second), by
    wall clock and by this thread's CPU time (per core, robust on a shared machine)."""
    mb = len(text.encode()) / 1e6
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn(text)
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.thread_time() - c0)
    return mb / best_wall, mb / best_cpu


STANDARD_RULES = {
    "input": {"default": "mask", "secret": "block", "injection": "block", "deny": "block"},
    "output": {"default": "mask", "injection": "log"},
}
OFF = {"pii.person_name": "allow", "pii.address_jp": "allow"}
#: Policies of --adversarial: which of the two analyser-backed detectors each leaves off.
POLICY_OFF = {
    "standard": {},
    "structured": OFF,
    "names": {"pii.address_jp": "allow"},
    "addresses": {"pii.person_name": "allow"},
}


def policies() -> Guardrails:
    """``standard`` (built in: names and addresses on) and ``structured`` (the same rules
    with names and addresses allowed, so those detectors do not run), ``names`` and
    ``addresses`` (one of the two on), all with deny lists."""
    from prai.config.guard import GuardConfig, GuardPolicyConfig

    deny = {"deny_words": ["社外秘", "Project Falcon"], "deny_regexes": [r"PRJ-\d{4}"]}
    return Guardrails(GuardConfig(policies={
        name: GuardPolicyConfig(
            input={**STANDARD_RULES["input"], **off},
            output={**STANDARD_RULES["output"], **off}, **deny)
        for name, off in POLICY_OFF.items()
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=8.0, help="corpus size (MB of UTF-8)")
    ap.add_argument("--iterations", type=int, default=2000, help="gateway latency samples")
    ap.add_argument("--gateway", type=int, default=0, metavar="N",
                    help="also measure a real gateway with N requests per project")
    ap.add_argument("--adversarial", action="store_true",
                    help="repeated patterns vs typical text; exit 1 past 10x")
    ap.add_argument("--adv-kb", type=int, default=1000, help="size of each repeated pattern (KB)")
    ap.add_argument("--policy", action="append", choices=list(POLICY_OFF), default=None,
                    help="with --adversarial: a policy to measure (repeatable; default: all)")
    ap.add_argument("--analysers", action="store_true", help="fugashi vs SudachiPy")
    args = ap.parse_args()
    # The name analyser remembers each sentence's names; this corpus is built from a few
    # sentences repeated, and the latency loop sends one prompt again and again, so the
    # cache would measure dictionary lookups. It is off for every figure but the stream's.
    from prai.guard import _names

    cache_size = _names.UNIT_CACHE_SIZE
    _names.UNIT_CACHE_SIZE = 0
    rails = policies()
    for name in POLICY_OFF:
        rails.policy(name).scanner.load()
    if args.adversarial:
        raise SystemExit(adversarial(rails, args.adv_kb, args.policy or list(POLICY_OFF)))
    if args.analysers:
        analysers()
        return
    size = int(args.mb * 1e6)

    print(f"scan rate, one core, {args.mb:g} MB mixed JA/EN (UTF-8 MB/s, best of 3; "
          "wall clock / thread CPU time)")
    cases = (("typical (1 PII / 2 KB)", 2048, ""), ("PII-dense (1 / 150 B)", 150, ""),
             ("typical + full-width Latin", 2048, "資料はＰＤＦで送付します。"))
    for label, every, prefix in cases:
        # full-width Latin letters anywhere switch the word detectors to the NFKC copy
        text = prefix + corpus(size, every)
        _, nfkc_cpu = rate(lambda t: unicodedata.normalize("NFKC", t), text)
        for name in ("standard", "structured"):
            scanner = rails.policy(name).scanner
            found = len(scanner.scan(text))
            scan_wall, scan_cpu = rate(scanner.scan, text, repeat=3 if name == "structured" else 1)
            print(f"  {label:27s} {name:10s} scan {scan_wall:6.2f} / {scan_cpu:6.2f} MB/s  "
                  f"findings {found:6d}   NFKC-only CPU {nfkc_cpu:6.1f} MB/s"
                  f"   ratio scan/NFKC {scan_cpu / nfkc_cpu:5.3f}")

    guard = GatewayGuard(rails)
    prompt = corpus(4096, 1024, seed=2)
    prompt = prompt[: len(prompt) * 4096 // len(prompt.encode())]
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}

    async def one(policy: str) -> tuple[float, float]:
        ctx = GuardContext(
            policy=policy,
            tenant="t",
            project="p",
            key_id="k",
            model="m",
            endpoint="chat.completions",
        )
        t0, c0 = time.perf_counter(), time.thread_time()
        await guard.check_input(ctx, body)
        return time.perf_counter() - t0, time.thread_time() - c0

    async def many() -> dict[str, list[tuple[float, float]]]:
        out: dict[str, list[tuple[float, float]]] = {"standard": [], "structured": []}
        for _ in range(50):
            await one("standard")
            await one("structured")
        for _ in range(args.iterations):  # interleaved
            for name in out:
                out[name].append(await one(name))
        return out

    samples = asyncio.run(many())
    for name, vals in samples.items():
        for label, values in (
            ("wall", [w for w, _ in vals]),
            ("thread CPU", [c for _, c in vals]),
        ):
            lat = sorted(values)
            p50 = statistics.median(lat) * 1e3
            p99 = lat[int(len(lat) * 0.99) - 1] * 1e3
            print(
                f"gateway input check, {len(prompt.encode())} B prompt, policy {name}, "
                f"{args.iterations} samples ({label}): p50 {p50:.3f} ms  p99 {p99:.3f} ms"
            )

    answer = corpus(20000, 1024, seed=3)
    # a stream re-scans its context window with each delta: the sentence cache is what keeps
    # that cheap, so it is on here (emptied first: nothing of the corpus is remembered)
    _names.UNIT_CACHE_SIZE = cache_size
    _names._UNIT_CACHE.clear()
    for name in ("standard", "structured"):
        pol = rails.policy(name)
        f = TextFilter(pol, holdback_chars=16)
        deltas = [answer[i : i + 3] for i in range(0, len(answer), 3)]
        t0 = time.perf_counter()
        for d in deltas:
            f.feed(d)
        f.finish()
        per = (time.perf_counter() - t0) / len(deltas) * 1e6
        print(
            f"stream filter, policy {name}: {per:.1f} µs per 3-character delta "
            f"({len(deltas)} deltas), hold-back 16 characters"
        )

    if args.gateway:
        gateway_e2e(args.gateway, prompt)


#: Repeated patterns (issue 19): prefixes of every detector, separators, normalisation
#: triggers, honorifics and address parts, valid findings back to back.
ADVERSARIAL = [
    "sk-", "sk-a", "xoxb-", "glpat-", "eyJ", "ghp_", "hf_", "AKIA", "@", "a@", "a@b.", "a.",
    "1.", ":", "a:", "::", "-----BEGIN ", "bearer ", "key=", "token: ", "password=",
    "パスワード：", "ignore ", "無視", "これまでの", "1 ", "1-", "12-", "123 ", "1234 ", "1234-",
    "0 ", "(0", "－1", "０", "〇一", "+81", "T1", "〒1", "口座", "AB1234567", "旅券", "Ａ",
    "ｶﾞ", "\u200b", "a\u0301", "İ", "㍻", "様", "さん", "山田", "山田太郎様、", "氏名：", "フリガナ ",
    "東京都", "港区", "港区六本木3-2-1 ", "1丁目", "ビル", "Minato-ku, ", "Tokyo 106-0032 ",
    "Taro ", "TARO YAMADA ", "090-1234-5678 ", "a@example.jp ", "x=1 ", "id=", "\n", " ", "あ",
    "漢", "ア", ",", "氏名,住所\n", "山田,港区\n",
]


def _numbers_text(make_item, separators: list[str], kb: int, seed: int) -> str:  # type: ignore[no-untyped-def]
    """``kb`` KB of fresh random items joined by random picks of ``separators``."""
    r = random.Random(seed)
    parts: list[str] = []
    n = 0
    while n < kb * 1000:
        item = make_item(r) + r.choice(separators)
        parts.append(item)
        n += len(item)
    return "".join(parts)


_MIXED = [" ", ",", "-", "\n", ", "]
#: Text made only of numbers where nothing repeats (issue 19): every candidate is new, so
#: no memo helps and each must be validated (check digits, issuer ranges, libphonenumber).
NUMBERS = {
    "random 4-digit groups, mixed separators": lambda kb, seed: _numbers_text(
        lambda r: _digits(r, 4), _MIXED, kb, seed),
    "random 1-8-digit groups, mixed separators": lambda kb, seed: _numbers_text(
        lambda r: _digits(r, r.randint(1, 8)), _MIXED, kb, seed),
    "random 0-leading groups, mixed separators": lambda kb, seed: _numbers_text(
        lambda r: "0" + _digits(r, r.randint(1, 4)), _MIXED, kb, seed),
    "random 4-4-4-4 cards": lambda kb, seed: _numbers_text(
        lambda r: " ".join(_digits(r, 4) for _ in range(4)), [" "], kb, seed),
    "random 090 phones": lambda kb, seed: _numbers_text(
        lambda r: f"090-{_digits(r, 4)}-{_digits(r, 4)}", [" "], kb, seed),
    "random 12-digit numbers": lambda kb, seed: _numbers_text(
        lambda r: _digits(r, 12), [" "], kb, seed),
    "CSV of random numbers": lambda kb, seed: _numbers_text(
        lambda r: ",".join(str(r.randint(0, 10 ** r.randint(1, 9))) for _ in range(6)),
        ["\n"], kb, seed),
}


def adversarial(rails: Guardrails, kb: int, names: list[str]) -> int:
    """Per-KB CPU time of each repeated pattern, and of each text of non-repeating numbers,
    against typical text, per policy."""
    typical = corpus(kb * 1000, 2048, seed=5)
    worst: list[tuple[float, str, str]] = []
    cases = [(repr(p), p * (kb * 1000 // len(p.encode()) + 1)) for p in ADVERSARIAL]
    cases += [(label, make(kb, 19)) for label, make in NUMBERS.items()]
    for name in names:
        scanner = rails.policy(name).scanner
        _, cpu = rate(scanner.scan, typical, repeat=3)
        base_us = 1000 / cpu  # µs per KB (1 MB/s = 1000 µs per KB)
        print(f"policy {name}: typical text {base_us:8.1f} µs/KB ({cpu:.2f} MB/s)")
        for pat, text in cases:
            us = float("inf")
            for _ in range(3):  # once; over the goal, twice more (the best run counts)
                c0 = time.thread_time()
                scanner.scan(text)
                us = min(us, (time.thread_time() - c0) / (len(text.encode()) / 1000) * 1e6)
                if us <= 10 * base_us:
                    break
            ratio = us / base_us
            worst.append((ratio, name, pat))
            flag = "  <== over 10x" if ratio > 10 else ""
            print(f"  {pat:22} {us:9.1f} µs/KB  {ratio:6.2f}x{flag}", flush=True)
    worst.sort(reverse=True)
    print("worst:", ", ".join(f"{p} ({n}) {r:.2f}x" for r, n, p in worst[:5]))
    return 1 if worst[0][0] > 10 else 0


def analysers() -> None:
    """fugashi + unidic-lite vs SudachiPy + sudachidict_core: speed and name tags."""
    import fugashi

    from prai.guard._ja import TAGGER_ARGS

    text = corpus(300_000, 1024, seed=7)
    lines = [ln for ln in text.split("\n") if ln]
    tagger = fugashi.Tagger(TAGGER_ARGS)

    def fugashi_names(line: str) -> list[str]:  # the path prai.guard uses: MeCab's text output
        out = tagger.parse(line)
        return [ln.split("\t", 1)[0] for ln in out.split("\n") if "人名" in ln]

    runs: list[tuple[str, object]] = [("fugashi+unidic-lite", fugashi_names)]
    try:
        from sudachipy import Dictionary, SplitMode

        dic = Dictionary(dict="core")
        sudachi = dic.create(mode=SplitMode.C, fields={"pos"})
        person = set()
        for i in range(100_000):  # POS ids are dense from 0; pos_of() is None past the last
            pos = dic.pos_of(i)
            if pos is None:
                break
            if pos[2] == "人名":
                person.add(i)

        def sudachi_names(line: str) -> list[str]:  # its fastest path: POS ids, pos field only
            return [m.surface() for m in sudachi.tokenize(line) if m.part_of_speech_id() in person]

        runs.append(("sudachipy+sudachidict_core", sudachi_names))
    except ImportError:
        print("SudachiPy not installed: pip install sudachipy sudachidict_core to compare")
    found: dict[str, list[list[str]]] = {}
    for label, fn in runs:
        c0 = time.thread_time()
        found[label] = [fn(ln) for ln in lines]  # type: ignore[operator]
        cpu = time.thread_time() - c0
        print(f"{label:28s} {len(text.encode()) / 1e6 / cpu:6.2f} MB/s (tokens + POS, one core)"
              f"  person-name tokens {sum(map(len, found[label]))}")
    if len(found) == 2:
        a, b = found.values()
        same = sum(x == y for x, y in zip(a, b, strict=True))
        print(f"lines with the same person-name tokens: {same}/{len(lines)}")


def gateway_e2e(n: int, prompt: str) -> None:
    """Gateway time (x-prai-gateway-ms) with and without a guard policy, side by side."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import tempfile
    import urllib.request
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]

    def port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def wait(url: str) -> None:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(url)

    tmp = Path(tempfile.mkdtemp(prefix="guard-bench-"))
    up, gw = port(), port()
    cfg = {"gateway": {
        "host": "127.0.0.1", "port": gw,
        "upstreams": [{"name": "up", "base_urls": [f"http://127.0.0.1:{up}"], "models": ["m"]}],
        "tenants": [{"name": "t", "projects": [{"name": "guarded", "guard_policy": "standard"},
                                               {"name": "held16", "guard_policy": "held16"},
                                               {"name": "plain"}]}],
        "storage": {"url": f"sqlite:///{tmp / 'gw.db'}", "journal_dir": str(tmp / "j")},
    }, "guard": {"policies": {"held16": {  # the standard rules with a 16-character window
        "input": {"default": "mask", "secret": "block", "injection": "block", "deny": "block"},
        "output": {"default": "mask", "injection": "log"}, "stream_holdback_chars": 16}}}}
    (tmp / "kitchen.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PRAI_CACHE_DIR": str(tmp)}
    prai = [sys.executable, "-m", "prai.cli.main"]
    procs = [subprocess.Popen([sys.executable, str(root / "tests/_support/fake_openai.py"),
                               str(up), "--echo", "--models", "m"])]
    try:
        wait(f"http://127.0.0.1:{up}/health")
        keys = {p: json.loads(subprocess.run(
            [*prai, "keys", "create", "--tenant", "t", "--project", p, "-c",
             str(tmp / "kitchen.yaml"), "--json"], env=env, capture_output=True, text=True,
            check=True).stdout)["key"] for p in ("guarded", "held16", "plain")}
        procs.append(subprocess.Popen([*prai, "gateway", "-c", str(tmp / "kitchen.yaml")],
                                      env=env, stderr=subprocess.DEVNULL))
        wait(f"http://127.0.0.1:{gw}/health")
        body = json.dumps({"model": "m", "max_tokens": 8, "messages": [
            {"role": "user", "content": prompt + "ANSWER:ok"}]}, ensure_ascii=False).encode()
        ms: dict[str, list[float]] = {"guarded": [], "plain": []}
        for i in range(2 * n + 40):
            p = "guarded" if i % 2 else "plain"
            req = urllib.request.Request(f"http://127.0.0.1:{gw}/v1/chat/completions", body,
                                         {"authorization": f"Bearer {keys[p]}",
                                          "content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                if i >= 40:  # warm-up excluded
                    ms[p].append(float(r.headers["x-prai-gateway-ms"]))
        res = {}
        for p, v in ms.items():
            v.sort()
            res[p] = (statistics.median(v), v[int(len(v) * 0.99) - 1])
            p90 = v[int(len(v) * 0.9) - 1]
            print(f"real gateway, {len(body)} B body, project {p:8s}: gateway time "
                  f"p50 {res[p][0]:.3f} ms  p90 {p90:.3f} ms  p99 {res[p][1]:.3f} ms"
                  f"  ({len(v)} requests)")
        print(f"added by the guard: p50 {res['guarded'][0] - res['plain'][0]:+.3f} ms  "
              f"p99 {res['guarded'][1] - res['plain'][1]:+.3f} ms")
        # time to first token through the gateway, upstream writing 3 characters per 20 ms
        answer = ("ご質問ありがとうございます。担当者の連絡先は090-1234-5678です。"
                  "よろしくお願いします。")
        stream_body = json.dumps({"model": "m", "stream": True, "messages": [
            {"role": "user", "content": "DELAY_MS:20;ANSWER:" + answer}]},
            ensure_ascii=False).encode()
        ttft: dict[str, list[float]] = {"guarded": [], "held16": [], "plain": []}
        for i in range(30):
            p = ("plain", "guarded", "held16")[i % 3]
            req = urllib.request.Request(f"http://127.0.0.1:{gw}/v1/chat/completions",
                                         stream_body, {"authorization": f"Bearer {keys[p]}",
                                                       "content-type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as r:
                for line in r:
                    flat = line.replace(b" ", b"")
                    if b'"content":"' in flat and b'"content":""' not in flat:
                        ttft[p].append((time.perf_counter() - t0) * 1e3)
                        break
                r.read()
        pl = statistics.median(ttft["plain"])
        for p, note in (("guarded", "window 0"), ("held16", "window 16: bound 17 characters ≈ "
                                                            "6 events ≈ 100 ms")):
            g = statistics.median(ttft[p])
            print(f"stream TTFT through the gateway (upstream: 3 characters / 20 ms), {p}: "
                  f"{g:.1f} ms vs plain {pl:.1f} ms, added {g - pl:+.1f} ms ({note})")
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
