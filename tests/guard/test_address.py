"""pii.address_jp (Japanese and romaji) and postal codes written beside addresses."""

from __future__ import annotations

import pytest

from prai.guard import Scanner

S = Scanner(detectors=["pii.address_jp", "pii.postal_code_jp"])


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, f.text) for f in S.scan(text)]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("住所：東京都港区六本木3-2-1 六本木グランドタワー 15F", "東京都港区六本木3-2-1 六本木グランドタワー 15F"),
        ("港区六本木3丁目2番1号に住んでいる", "港区六本木3丁目2番1号"),
        ("大阪府大阪市北区梅田二丁目9番21号 梅田ビル501号室へ送付",
         "大阪府大阪市北区梅田二丁目9番21号 梅田ビル501号室"),
        ("横浜市港北区新横浜2-3-4-401", "横浜市港北区新横浜2-3-4-401"),
        ("北海道札幌市中央区北一条西6丁目1-2", "北海道札幌市中央区北一条西6丁目1-2"),
        ("京都市中京区烏丸通御池下る虎屋町566-1", "京都市中京区烏丸通御池下る虎屋町566-1"),
        ("東京都 千代田区 丸の内 1-1-1", "東京都 千代田区 丸の内 1-1-1"),
        ("石狩郡当別町白樺町58番地9", "石狩郡当別町白樺町58番地9"),
        ("千葉県船橋市本町１－３－１ 船橋フェイスビル 8階です。", "千葉県船橋市本町１－３－１ 船橋フェイスビル 8階"),
        ("Ship to: 3-2-1 Roppongi, Minato-ku, Tokyo 106-0032, Japan", None),
        ("Room 301, 2-3-4 Nishi-Shinjuku, Shinjuku-ku, Tokyo", "Room 301, 2-3-4 Nishi-Shinjuku, Shinjuku-ku, Tokyo"),
    ],
)
def test_addresses(text: str, address: str | None) -> None:
    got = [t for d, t in found(text) if d == "pii.address_jp"]
    if address is None:  # the romaji address up to the prefecture; the code is its own finding
        assert found(text) == [
            ("pii.address_jp", "3-2-1 Roppongi, Minato-ku, Tokyo"), ("pii.postal_code_jp", "106-0032"),
        ]
    else:
        assert got == [address]


@pytest.mark.parametrize(
    "text",
    ["東京駅で待ち合わせ", "博多駅に到着", "表参道のさくら内科", "ひかり不動産で物件を探す", "港区で会議",
     "東京都港区で打ち合わせ", "Our office is in Minato-ku.", "第3四半期の売上は12%増加",
     # a municipality and town without a street number: a place in news or a listing
     "2021年5月27日午後6時ごろ、宇都宮市中河原町の住宅で火災があった。",
     "入居申込書　物件：グランハイツ 412号室（船橋市八木が谷）",
     "倉庫 江東区新木場倉庫", "本社は福岡県北九州市八幡西区にある。"],
)
def test_not_addresses(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "postal"),
    [
        ("106-0032 東京都港区六本木", "106-0032"),
        ("〒なし 530-0001 大阪市北区梅田", "530-0001"),
        ("Minato-ku, Tokyo 106-0032", "106-0032"),
        ("〒100-0001 東京都千代田区", "〒100-0001"),
    ],
)
def test_postal_codes_beside_addresses(text: str, postal: str) -> None:
    assert ("pii.postal_code_jp", postal) in found(text)


def test_unknown_postal_code_is_not_reported() -> None:
    # Japan Post has no 000-0000: a part number before a prefecture name is not a code
    assert ("pii.postal_code_jp", "000-0000") not in found("000-0000 東京都港区")
