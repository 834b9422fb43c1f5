"""Number detectors in the contexts real documents give them (issue 15 items 1 and 6):
bank-account labels, phone grouping by the numbering plan, log and JSON keys, postal codes
beside addresses. Examples written for these tests, none taken from bench/guard_data."""

from __future__ import annotations

import pytest

from prai.guard import Scanner

S = Scanner()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, f.text) for f in S.scan(text)]


@pytest.mark.parametrize(
    ("text", "account"),
    [
        ("振込先：横浜銀行 本店 普通 口座番号 1234567", "1234567"),
        ("引落口座：りそな銀行 上野支店 普通 7654321", "7654321"),
        ("口座種別：普通預金\n口座番号：0123456", "0123456"),
        ("お振込先：京都銀行（0158）札幌支店（470） 普通預金 ４９５５７４５", "４９５５７４５"),
        ("ゆうちょ銀行 記号番号 12340-12345671", "12340-12345671"),
        ("Refund to Mizuho Bank savings 3456789", "3456789"),
        ("Bank account: 2345678", "2345678"),
    ],
)
def test_bank_account_after_its_label(text: str, account: str) -> None:
    assert ("pii.bank_account_jp", account) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "件名：返金先口座のご連絡（注文番号 #215671）",  # a bank word, then an order number
        "口座振替日 20230224",  # a date
        "口座振替日 2023-06-21\n056111,売掛金",  # the next line's voucher number
        "2026-01-05 INFO [billing] account_seq=6606073 status=200",  # a log sequence
        "2024/06/13,普通預金,株式会社共栄商事,9223430,39058",  # a journal row's amount
    ],
)
def test_bank_words_further_away_are_not_enough(text: str) -> None:
    assert [d for d, _ in found(text) if d == "pii.bank_account_jp"] == []


@pytest.mark.parametrize(
    "text",
    ["品番 0205-2273-941", "部品 6073-7199-21 在庫あり", "0550-4522-29 アルコール除菌シート"],
)
def test_part_numbers_without_a_subscriber_group_are_not_phones(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("電話：011-971-8662（18時以降）", "011-971-8662"),  # after a label: the plan's shape
        ("フリーダイヤル 0120-123-456", "0120-123-456"),
        ("sms delivery failed to=09012345678 retry=3", "09012345678"),
        ('{"id":7,"tel":"0312345678"}', "0312345678"),
    ],
)
def test_phones(text: str, phone: str) -> None:
    assert ("pii.phone_jp", phone) in found(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("東京都渋谷区恵比寿1-2-3 恵比寿ハイツ 302号室 150-0013", "150-0013"),  # after the address
        ("新潟県胎内市切田 22-29 ９５９－２８０２", "９５９－２８０２"),
        ("営業部主任\n大谷 優子\n053-0022\n北海道苫小牧市表町 1-2-3", "053-0022"),  # line before
        ("E1001,山田 太郎,453-0842,愛知県名古屋市中村区剣町500-27", "453-0842"),  # cell before
        ("2-9-21 Ebisu, Shibuya-ku, Tokyo 150-0013, Japan", "150-0013"),
        ('{"zip":"150-0013","address":"東京都渋谷区恵比寿1-2-3"}', "150-0013"),
    ],
)
def test_postal_codes_beside_addresses(text: str, code: str) -> None:
    assert ("pii.postal_code_jp", code) in found(text)
