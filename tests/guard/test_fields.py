"""Tables and keyed values (prai.guard._fields): column headers are the context of the
cells under them; name and address columns and keys make their values findings."""

from __future__ import annotations

from prai.guard import Scanner
from prai.guard._fields import tables

S = Scanner()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, f.text) for f in S.scan(text)]


def test_tables_give_each_cell_its_header() -> None:
    text = "社員番号,氏名,口座番号\nE1,山田 太郎,1234567\nE2,\"佐藤, 花子\",7654321\n\n後記,なし,1\n"
    cells = [(c.header, text[c.start : c.end]) for c in tables(text)]
    assert cells == [
        ("社員番号", "E1"), ("氏名", "山田 太郎"), ("口座番号", "1234567"),
        ("社員番号", "E2"), ("氏名", "佐藤, 花子"), ("口座番号", "7654321"),
    ]


def test_payroll_export_accounts_only_under_their_column() -> None:
    text = (
        "社員番号,氏名,支給額,銀行コード,支店コード,口座種別,口座番号,口座名義\n"
        "E1001,山田 太郎,280000,0005,123,1,7654321,ヤマダ タロウ\n"
        "E1002,佐藤 花子,315000,0009,456,普通,１２３４５６７,サトウ ハナコ\n"
    )
    assert found(text) == [
        ("pii.person_name", "山田 太郎"), ("pii.bank_account_jp", "7654321"),
        ("pii.person_name", "ヤマダ タロウ"), ("pii.person_name", "佐藤 花子"),
        ("pii.bank_account_jp", "１２３４５６７"), ("pii.person_name", "サトウ ハナコ"),
    ]


def test_postal_code_column_without_dash() -> None:
    text = "社員番号\t氏名\t郵便番号\t住所\nE1\t山田 太郎\t1500013\t渋谷区恵比寿1-2-3\n"
    assert ("pii.postal_code_jp", "1500013") in found(text)


def test_journal_and_catalogue_numbers_are_no_personal_data() -> None:
    journal = (
        "伝票番号,日付,勘定科目,取引先,借方,貸方,摘要\n"
        "228975178126,2026-08-07,普通預金,株式会社テスト商事,2852652,48903,口座振替日 20190902\n"
        "056111,20200701,売掛金,テスト電機株式会社,3901624,75422,月額利用料\n"
    )
    catalogue = "品番,商品名,JANコード,入数\n0205-2273-941\tLED電球\t4901234567894\t24\n"
    assert found(journal) == []
    assert found(catalogue) == []


def test_json_lines_are_not_a_header_but_their_keys_count() -> None:
    text = (
        '{"id":1,"name":"横田亮太","kana":"ヨコタリョウタ","address":"倉吉市志津３７３－５"}\n'
        '{"id":2,"name":"片山 英樹","kana":"カタヤマ ヒデキ","address":"新潟市江南区両川2-3-4"}\n'
    )
    got = found(text)
    assert ("pii.person_name", "name") not in got
    assert [t for d, t in got if d == "pii.person_name"] == [
        "横田亮太", "ヨコタリョウタ", "片山 英樹", "カタヤマ ヒデキ",
    ]
    assert [t for d, t in got if d == "pii.address_jp"] == ["倉吉市志津３７３－５", "新潟市江南区両川2-3-4"]


def test_log_name_value() -> None:
    assert found('2024-05-01 INFO signup name="Ryo Kimura" shard=1') == [("pii.person_name", "Ryo Kimura")]
