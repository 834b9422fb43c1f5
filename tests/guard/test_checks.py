"""Check digits: published examples and the formulas' edge cases."""

from __future__ import annotations

import pytest

from prai.guard._checks import (
    card_issuer,
    corporate_number_valid,
    ean13_valid,
    jp_phone_valid,
    luhn_valid,
    my_number_valid,
)


def test_my_number_check_digit() -> None:
    # 12345678901 → Σ P·Q = 212, 212 mod 11 = 3, check = 11 − 3 = 8
    assert my_number_valid("123456789018")
    assert not my_number_valid("123456789012")
    # remainder ≤ 1 → check digit 0: every other final digit fails
    body = next(f"{i:011d}" for i in range(10**6) if my_number_valid(f"{i:011d}0"))
    assert [my_number_valid(body + str(c)) for c in range(10)].count(True) == 1
    assert not my_number_valid("12345678901")  # 11 digits
    assert not my_number_valid("12345678901a")


def test_corporate_number_check_digit() -> None:
    assert corporate_number_valid("7000012050002")  # 国税庁 (National Tax Agency)
    assert not corporate_number_valid("1000012050002")
    assert not corporate_number_valid("700001205000")


def test_luhn_and_issuers() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert card_issuer("4111111111111111") == "visa"
    assert card_issuer("5555555555554444") == "mastercard"
    assert card_issuer("378282246310005") == "amex"
    assert card_issuer("3530111333300000") == "jcb"
    assert card_issuer("2223003122003222") == "mastercard"
    assert card_issuer("9111111111111111") is None  # no issuer starts with 9
    assert card_issuer("4111111111111112") is None  # Luhn fails


def test_ean13_and_phone() -> None:
    assert ean13_valid("9784003101018")
    assert jp_phone_valid("0312345678", False)
    assert jp_phone_valid("09012345678", False)
    assert jp_phone_valid("819012345678", True)
    assert not jp_phone_valid("0012345678", False)


@pytest.mark.parametrize("d", ["", "0", "abcdefghijkl"])
def test_garbage(d: str) -> None:
    assert not my_number_valid(d)
    assert not corporate_number_valid(d)


def test_phone_cache_agrees_with_libphonenumber() -> None:
    import random

    from prai.guard._checks import _jp_phone_valid_uncached

    r = random.Random(3)
    for _ in range(3000):
        d = "0" + "".join(r.choice("0123456789") for _ in range(r.choice([9, 10])))
        assert jp_phone_valid(d, False) == _jp_phone_valid_uncached(d), d
        assert jp_phone_valid("81" + d[1:], True) == _jp_phone_valid_uncached(d), d
