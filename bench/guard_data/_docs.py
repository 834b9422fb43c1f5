# ruff: noqa: E501  (template text: one document line per source line reads better than wrapped strings)
"""Templates of documents that hold personal data (one function per source)."""

from __future__ import annotations

import json
import random

import _noise as N
from _kit import (
    NAME,
    Doc,
    Span,
    account_number,
    address,
    address_en,
    building,
    card,
    company,
    corpnum,
    email,
    expiry,
    invoice_number,
    kana_name,
    mynumber,
    name,
    person,
    phone,
    pick,
    place,
    postal,
    public_figure,
    roman_name,
    shop_company,
    surname,
    yucho_account,
    zip_with_mark,
)
from _pools import (
    BANKS,
    BRANCHES,
    DEPARTMENTS,
    DRUGS,
    PRODUCTS,
    PUBLIC_ROLES,
    SYMPTOMS,
    TITLES,
    TITLES_EN,
)
from _values import digits

# --- shared blocks -------------------------------------------------------------------


def signature_ja(r: random.Random, d: Doc, p=None, co=None) -> None:
    """A Japanese e-mail signature block with business-card phone forms."""
    p = p or person(r)
    co = co or company(r)
    pl = place(r)
    rule = pick(r, "--", "――――――――――――――――", "━━━━━━━━━━━━━━━━", "=" * 30, "-" * 28, "")
    if rule:
        d.line(rule)
    d.line(co.name)
    d.line(r.choice(DEPARTMENTS), pick(r, "", " ", "　"), r.choice(TITLES) if r.random() < 0.7 else "")
    style = r.random()
    if style < 0.35:
        d.line(name(r, p), "（", roman_name(r, p, "given_first"), "）")
    elif style < 0.55:
        d.line(name(r, p), " / ", roman_name(r, p, "upper_surname"))
    elif style < 0.7:
        d.line(name(r, p), "（", kana_name(r, p, hiragana=r.random() < 0.5), "）")
    else:
        d.line(name(r, p))
    d.line(*zip_with_mark(r, pl), pick(r, " ", "　", "\n"), address(r, pl, office=True))
    tel_label = pick(r, "TEL", "TEL:", "Tel.", "電話：", "TEL：", "T.", "直通")
    styles = ("intl_zero", "intl_zero_space", "dot", "hyphen", "hyphen", "paren", "intl", "zen")
    d.line(tel_label, " ", phone(r, "land", r.choice(styles)),
           r.choice(("", "", "（代表）", f"（内線{r.randint(100, 999)}）", f" ext.{r.randint(10, 999)}", "")))
    if r.random() < 0.5:
        d.line(pick(r, "FAX", "FAX:", "Fax.", "FAX："), " ", phone(r, "land", r.choice(("hyphen", "dot", "paren"))))
    if r.random() < 0.6:
        d.line(pick(r, "Mobile:", "携帯：", "M.", "携帯 ", "Mob."), " ",
               phone(r, "mobile", r.choice(("intl_zero", "hyphen", "dot", "intl_zero_space", "hyphen", "zen"))),
               r.choice(("", "", "（18時以降）", "（平日10-18時）", "(業務用)")))
    d.line(pick(r, "E-mail:", "Mail:", "メール：", "E-mail："), " ", email(r, p, co.domain))
    d.line(pick(r, f"https://www.{co.domain}/", "", f"URL: https://{co.domain}"))


def greeting(r: random.Random) -> str:
    return pick(r, "いつもお世話になっております。", "平素より大変お世話になっております。", "お世話になっております。",
                "ご連絡ありがとうございます。", "突然のご連絡失礼いたします。")


# --- support tickets ----------------------------------------------------------------


def support_ticket(r: random.Random) -> Doc:
    d = Doc("support_ticket")
    p = person(r)
    pl = place(r)
    tno = N.ticket_no(r)
    d.line(f"【問い合わせ受付】{tno}")
    d.line(f"受付日時：{N.date(r, 'ja')} {N.time_(r)}　チャネル：{pick(r, 'Webフォーム', '電話', 'メール', 'チャット')}")
    d.line(f"カテゴリ：{pick(r, '配送', '返品・交換', '請求', '製品不具合', '会員情報変更', '解約')}")
    d.line("お客様名：", name(r, p), pick(r, " 様", "様", ""))
    if r.random() < 0.7:
        d.line(pick(r, "フリガナ：", "ふりがな：", "カナ："), kana_name(r, p, hiragana=r.random() < 0.3))
    d.line(pick(r, "電話番号：", "連絡先：", "TEL："), phone(r), r.choice(("", "", "（日中）", "（18時以降）", "(携帯)")))
    if r.random() < 0.8:
        d.line("メール：", email(r, p))
    if r.random() < 0.65:
        d.line("ご住所：", *zip_with_mark(r, pl), " ", address(r, pl))
    order = N.order_no(r)
    d.line(f"注文番号：{order}　商品：{r.choice(PRODUCTS)[0]}（JAN {N.jan(r)}）")
    if r.random() < 0.3:
        d.line(f"お支払い：{pick(r, 'クレジットカード', 'カード')}（{pick(r, '下4桁 ', '**** **** **** ', 'XXXX-XXXX-XXXX-')}{digits(r, 4)}）")
    d.line("")
    d.line("■お問い合わせ内容")
    body = r.choice((
        f"{N.date(r, 'ja')}に注文した商品がまだ届きません。追跡番号は{N.tracking(r)}です。至急確認をお願いします。",
        f"届いた商品が破損していました（外箱に凹み）。交換を希望します。購入金額 {N.amount(r, 500, 40000)}。",
        f"{N.date(r, 'slash')}付の請求額が{N.amount(r, 1000, 90000)}となっていますが、割引が反映されていないようです。",
        "引っ越しのため登録住所を変更したいです。新住所は下記の通りです。",
        f"製品（型番 {N.part_no(r)}、シリアル {digits(r, 10)}）の電源が入らなくなりました。",
    ))
    d.line(body)
    if "新住所" in body:
        pl2 = place(r)
        d.line("新住所：", *zip_with_mark(r, pl2), " ", address(r, pl2))
    d.line("")
    d.line("■対応履歴")
    agent = person(r)
    d.line(f"{N.date(r, 'slash')} {N.time_(r)} 担当：", surname(agent), pick(r, "", "（一次対応）", "（CS2課）"))
    d.line(pick(r, f"お客様へ折り返し電話済み。{N.date(r, 'ja')}に再配送手配。", "倉庫へ在庫確認中。回答待ち。",
                f"返金処理（{N.amount(r, 500, 30000)}）を経理へ依頼。", "交換品を発送済み。伝票番号 " + N.tracking(r)))
    if r.random() < 0.4:
        d.line("エスカレーション先：", name(r, person(r)), pick(r, "（SV）", " SV", "リーダー"))
    return d


def support_ticket_en(r: random.Random) -> Doc:
    d = Doc("support_ticket_en")
    p = person(r)
    pl = place(r, english=True)
    d.line(f"Subject: Re: [{N.ticket_no(r)}] {pick(r, 'Change of delivery address', 'Refund request', 'Cannot log in', 'Wrong item received')}")
    d.line("From: ", roman_name(r, p, "given_first"), " <", email(r, p), ">")
    d.line("")
    d.line(pick(r, "Hello,", "Hi team,", "Dear Customer Support,", "お世話になります。"))
    d.line(pick(r, f"My order {N.order_no(r)} was supposed to arrive on {N.date(r, 'iso')} but it has not come yet.",
                f"I was charged {N.amount(r, 1000, 50000)} twice for order {N.order_no(r)}.",
                "I moved last month, so please ship to my new address below.",
                f"I received the wrong item (JAN {N.jan(r)}) instead of the one I ordered."))
    d.line("")
    d.line(address_en(r, pl), pick(r, " ", ", "), postal(r, pl, "hyphen"), pick(r, "", ", Japan", " JAPAN"))
    d.line(pick(r, "Phone: ", "Tel: ", "Mobile: "), phone(r, "mobile", r.choice(("intl", "intl_space", "hyphen", "intl_zero"))))
    d.line("")
    d.line(pick(r, "Thanks,", "Best regards,", "Regards,"))
    d.line(roman_name(r, p, r.choice(("given_first", "upper_surname", "surname_first"))))
    d.line("")
    d.line("-----")
    agent = person(r)
    d.line(pick(r, "ご連絡ありがとうございます。", "Thank you for contacting us."), "担当の", surname(agent),
           pick(r, "です。", "と申します。"), pick(r, "確認のうえ折り返しご連絡いたします。", "We will update you within 2 business days."))
    return d


# --- HR exports ---------------------------------------------------------------------


def hr_export(r: random.Random, tsv: bool = False) -> Doc:
    d = Doc("hr_tsv" if tsv else "hr_csv")
    sep = "\t" if tsv else ","
    kind = r.choice(("master", "payroll", "nenmatsu", "emergency"))
    cols = {
        "master": ["社員番号", "氏名", "フリガナ", "所属", "入社日", "生年月日", "携帯電話", "郵便番号", "住所"],
        "payroll": ["社員番号", "氏名", "基本給", "銀行コード", "支店コード", "口座種別", "口座番号", "口座名義", "支給日"],
        "nenmatsu": ["社員番号", "氏名", "個人番号", "扶養人数", "配偶者氏名", "配偶者個人番号", "年収見込", "住所"],
        "emergency": ["社員番号", "氏名", "内線", "緊急連絡先氏名", "続柄", "緊急連絡先電話", "更新日"],
    }[kind]
    if kind == "master" and r.random() < 0.5:
        cols.insert(7, "メール")
    if r.random() < 0.3:
        title = {"master": "従業員マスタ", "payroll": "給与振込データ", "nenmatsu": "年末調整 扶養情報", "emergency": "緊急連絡網"}[kind]
        d.line(f"# {title} 出力日 {N.date(r, 'slash')} "
               f"出力者ID {r.randint(1000, 9999)}")
    d.line(sep.join(cols))
    for _ in range(r.randint(2, 8)):
        p = person(r)
        pl = place(r)
        cells: list = []
        for c in cols:
            if c == "社員番号":
                cells.append(f"{r.choice(('', 'E', 'A'))}{digits(r, 6, '1')}")
            elif c == "氏名":
                cells.append(name(r, p, r.choice(("space", "zenspace", "nospace"))))
            elif c == "フリガナ":
                cells.append(kana_name(r, p))
            elif c == "所属":
                cells.append(r.choice(("営業部", "総務部", "開発部", "経理部", "人事部", "品質保証部")))
            elif c in ("入社日", "支給日", "更新日"):
                cells.append(N.date(r, r.choice(("slash", "compact", "iso"))))
            elif c == "生年月日":
                cells.append(N.birthdate(r))
            elif c in ("携帯電話", "緊急連絡先電話"):
                cells.append(phone(r, r.choice(("mobile", "mobile", None)), r.choice(("hyphen", "plain", "hyphen", "paren"))))
            elif c == "郵便番号":
                cells.append(postal(r, pl, r.choice(("hyphen", "plain"))))
            elif c == "住所":
                a = address(r, pl, spaces=False)
                cells.append(['"', a, '"'] if sep == "," and ("," in a.text) else a)
            elif c == "メール":
                cells.append(email(r, p, r.choice(("example-corp.co.jp", "hikari-sol.co.jp", "sakura-shoji.co.jp"))))
            elif c == "基本給":
                cells.append(str(r.randint(180, 650) * 1000))
            elif c == "銀行コード":
                cells.append(r.choice(BANKS)[1])
            elif c == "支店コード":
                cells.append(digits(r, 3))
            elif c == "口座種別":
                cells.append(r.choice(("普通", "普通", "当座", "1")))
            elif c == "口座番号":
                cells.append(account_number(r))
            elif c == "口座名義":
                cells.append(Span(NAME, p.kata(" ")))
            elif c in ("個人番号", "配偶者個人番号"):
                cells.append(mynumber(r, r.choice(("plain", "plain", "hyphen"))))
            elif c == "扶養人数":
                cells.append(str(r.randint(0, 4)))
            elif c == "配偶者氏名":
                sp = person(r, "f" if p.gender == "m" else "m")
                cells.append(name(r, type(p)(p.sei, sp.mei, p.sei_yomi, sp.mei_yomi, sp.gender)))
            elif c == "年収見込":
                cells.append(str(r.randint(250, 1200) * 10000))
            elif c == "内線":
                cells.append(str(r.randint(1000, 4999)))
            elif c == "緊急連絡先氏名":
                cells.append(name(r, person(r)))
            elif c == "続柄":
                cells.append(r.choice(("妻", "夫", "母", "父", "兄", "姉", "子")))
        for i, cell in enumerate(cells):
            d.add(cell)
            d.add(sep if i < len(cells) - 1 else "\n")
    return d


# --- sales e-mail -------------------------------------------------------------------


def sales_email(r: random.Random) -> Doc:
    d = Doc("sales_email")
    to_p, to_co = person(r), company(r)
    me, my_co = person(r), company(r)
    d.line(f"件名：{pick(r, 'お見積りの件', '打ち合わせ日程のご相談', '新製品のご案内', 'ご発注ありがとうございます', 'Re: 契約更新について')}")
    d.line("")
    style = r.random()
    if style < 0.4:
        d.line(to_co.name)
        d.line(r.choice(DEPARTMENTS), " ", name(r, to_p), pick(r, " 様", "様"))
    elif style < 0.7:
        d.line(to_co.name, pick(r, " ", "　"), name(r, to_p, "nospace"), "様")
    else:
        d.line(to_co.short, " ", surname(to_p), pick(r, "様", " 様", "部長", "課長"))
    d.line("")
    d.line(greeting(r))
    d.line(my_co.name, "の", surname(me), "です。")
    d.line("")
    body = r.choice((
        f"先日ご依頼いただいた件につき、お見積書（見積番号 Q-{digits(r, 6)}）を添付いたします。合計{N.amount(r, 50000, 5000000)}（税込）です。",
        f"{N.date(r, 'ja')}（{pick(r, '月', '火', '水', '木', '金')}）{N.time_(r)}から、{N.station(r)}近くの弊社会議室にて打ち合わせはいかがでしょうか。",
        f"新製品 {N.part_no(r)} のご案内です。単価{N.amount(r, 1000, 90000)}、最小ロット{r.randint(10, 500)}個、納期は約{r.randint(2, 8)}週間です。",
        f"ご発注（注文番号 {N.order_no(r)}）ありがとうございます。{N.date(r, 'slash')}に出荷予定です。",
        f"契約更新（{N.version(r)}対応版）の件、{N.date(r, 'ja')}までにご回答いただけますと幸いです。",
    ))
    d.line(body)
    if r.random() < 0.3:
        d.line("当日は", name(r, person(r)), pick(r, "（技術担当）", "も", "（弊社部長）"), "同席いたします。")
    if r.random() < 0.25:
        d.line(f"※{pick(r, '博多駅', '東京駅', '新大阪駅', '名古屋駅')}からのアクセスは添付の地図をご参照ください。")
    d.line("")
    d.line(pick(r, "引き続きよろしくお願いいたします。", "何卒よろしくお願い申し上げます。", "ご検討のほど、よろしくお願いいたします。"))
    d.line("")
    signature_ja(r, d, me, my_co)
    if r.random() < 0.35:
        d.line("")
        d.line("-----Original Message-----")
        d.line("From: ", name(r, to_p, "nospace"), " <", email(r, to_p, to_co.domain), ">")
        d.line(f"Sent: {N.date(r, 'slash')} {N.time_(r)}")
        d.line(pick(r, "> 見積りをお願いできますでしょうか。", "> 来週のご都合を教えてください。", "> 資料を拝見しました。"))
    return d


def english_email(r: random.Random) -> Doc:
    d = Doc("english_email")
    me, co = person(r), company(r)
    pl = place(r, english=True)
    to = person(r)
    d.line(f"Subject: {pick(r, 'Quotation for Q3', 'Meeting next week', 'Follow-up: onboarding', 'Invoice correction')}")
    d.line("")
    d.line("Dear ", pick(r, "Mr. ", "Ms. ", ""), Span(NAME, to.sei_ro), ",")
    d.line("")
    d.line(pick(r, "Thank you for your time yesterday.", "I hope this e-mail finds you well.", "Thank you for your quick reply."))
    d.line(pick(r, f"Please find attached our quotation No. Q-{digits(r, 6)} (total JPY {r.randint(100, 9000) * 1000:,}).",
                f"Could we meet at {N.station(r)} on {N.date(r, 'iso')} at {N.time_(r)}?",
                f"The shipment (tracking {N.tracking(r)}) left our warehouse on {N.date(r, 'iso')}."))
    d.line("")
    d.line(pick(r, "Best regards,", "Kind regards,", "Sincerely,"))
    d.line("")
    d.line(roman_name(r, me, r.choice(("given_first", "upper_surname", "given_first"))))
    d.line(r.choice(TITLES_EN), " | ", co.name.replace("株式会社", "").replace("有限会社", "").replace("合同会社", ""), " Co., Ltd.")
    d.line(address_en(r, pl, bldg=r.random() < 0.6), ", ", postal(r, pl, "hyphen"), pick(r, ", Japan", " Japan", ""))
    d.line(pick(r, "Tel: ", "T: ", "Phone: "), phone(r, "land", r.choice(("intl_zero_space", "intl_zero", "intl", "intl_space"))),
           pick(r, " | Mobile: ", " / M: "), phone(r, "mobile", r.choice(("intl_zero", "intl", "intl_space"))))
    d.line(email(r, me, co.domain))
    return d


# --- medical -----------------------------------------------------------------------


def medical_intake(r: random.Random) -> Doc:
    d = Doc("medical_intake")
    p = person(r)
    pl = place(r)
    d.line(pick(r, "【問診票】", "初診受付票", "外来問診記録", "【新患受付】"), f" 受付No.{r.randint(1, 300):03d}")
    d.line(f"受付日：{N.date(r, 'ja')} {N.time_(r)}")
    kana_open, kana_close = r.choice((("（", "）"), ("　フリガナ：", ""), ("（カナ：", "）")))
    d.line(pick(r, "患者氏名：", "氏名：", "患者名："), name(r, p), pick(r, "", " 様", "　殿"),
           kana_open, kana_name(r, p), kana_close)
    d.line(f"生年月日：{N.birthdate(r)}（{r.randint(18, 90)}歳）　性別：{'男' if p.gender == 'm' else '女'}")
    d.line("住所：", *zip_with_mark(r, pl), " ", address(r, pl, bldg=r.random() < 0.45))
    d.line("電話：", phone(r, r.choice(("land", "mobile"))), r.choice(("", "（18時以降）", "（自宅）", "(日中不在)", "")))
    if r.random() < 0.5:
        d.line("携帯：", phone(r, "mobile", r.choice(("hyphen", "dot", "plain", "zen"))))
    d.line(f"保険者番号：{N.insurer_no(r)}　記号：{r.randint(1, 99)}-{r.randint(1, 99)}　番号：{r.randint(1, 999)}")
    d.line(f"主訴：{r.choice(SYMPTOMS)}")
    d.line(f"既往歴：{pick(r, '高血圧（2019年～）', '糖尿病 2型', '特になし', '喘息（小児期）', '虫垂炎手術（2008年）')}")
    d.line(f"服薬：{r.choice(DRUGS)}　アレルギー：{pick(r, 'なし', '卵', 'ペニシリン系', 'そば', 'なし')}")
    if r.random() < 0.5:
        doc = person(r)
        d.line("紹介元：", r.choice(("さくら内科", "あおば歯科", "ひだまりクリニック", "中央眼科", "わかば眼科")), " ",
               surname(doc), pick(r, "先生", " 先生", "医師"))
    if r.random() < 0.4:
        kin = person(r)
        d.line("緊急連絡先：", name(r, kin), f"（{pick(r, '妻', '夫', '長男', '長女', '母')}）", phone(r, "mobile"))
    d.line(f"バイタル：BP {r.randint(100, 170)}/{r.randint(60, 100)}　HR {r.randint(55, 110)}　BT {r.uniform(35.8, 38.9):.1f}℃　SpO2 {r.randint(93, 99)}%")
    d.line("記入者：", pick(r, "看護師 ", "受付 ", "Ns."), surname(person(r)))
    return d


# --- contracts ---------------------------------------------------------------------


def contract(r: random.Random) -> Doc:
    d = Doc("contract")
    kind = r.choice(("業務委託契約書", "建物賃貸借契約書", "秘密保持契約書", "売買契約書", "金銭消費貸借契約書"))
    co = company(r)
    rep, indiv = person(r), person(r)
    d.line(kind)
    d.line("")
    subject, purpose = {
        "業務委託契約書": ("本件業務", "甲が乙に委託する業務"), "建物賃貸借契約書": ("下記物件", "甲が乙に賃貸する物件"),
        "秘密保持契約書": ("秘密情報の取扱い", "甲乙間で開示される情報"), "売買契約書": ("下記商品の売買", "甲が乙に売り渡す商品"),
        "金銭消費貸借契約書": ("金銭の貸借", "甲が乙に貸し付ける金銭"),
    }[kind]
    d.line(co.name, "（以下「甲」という。）と", name(r, indiv), "（以下「乙」という。）は、",
           f"{subject}に関し、次のとおり契約を締結する。")
    d.line("")
    d.line(f"第1条（目的）本契約は、{purpose}の条件を定める。")
    if "賃貸" in kind:
        pl = place(r)
        d.line("第2条（物件）所在地：", address(r, pl, pref=True, bldg=True), f"　専有面積 {r.uniform(18, 90):.2f}㎡")
        d.line(f"第3条（賃料）月額{N.amount(r, 50000, 300000)}、共益費{N.amount(r, 3000, 15000)}。毎月末日までに翌月分を支払う。")
    else:
        d0, d1 = N.date_range(r, max_days=1100)
        d.line(f"第2条（期間）{d0}から{d1}まで。")
        d.line(f"第3条（対価）{N.amount(r, 100000, 9000000)}（消費税別）。")
    d.line("第4条（協議）本契約に定めのない事項は、甲乙誠実に協議する。")
    d.line("")
    d.line("本契約締結の証として本書2通を作成し、甲乙記名押印の上、各1通を保有する。")
    d.line(N.date(r, r.choice(("ja", "reiwa"))))
    d.line("")
    pl1, pl2 = place(r), place(r)
    num_style = r.choice(("kanji_chome", "arabic", "all_kanji", "hyphen", "zen_full", None))
    d.line("甲　", pick(r, "住所　", "所在地　", ""), address(r, pl1, pref=True, office=True, style=num_style if pl1.chome else None))
    d.line("　　", co.name)
    d.line("　　代表取締役　", name(r, rep, r.choice(("space", "zenspace"))), pick(r, "　印", "　㊞", ""))
    if r.random() < 0.6:
        d.line("　　法人番号　", corpnum(r))
    d.line("")
    d.line("乙　", pick(r, "住所　", ""), address(r, pl2, pref=r.random() < 0.8, style=num_style if pl2.chome else None))
    d.line("　　", name(r, indiv, r.choice(("space", "zenspace", "nospace"))), pick(r, "　殿", "　様", "　印", ""))
    if r.random() < 0.3:
        g = person(r)
        d.line("連帯保証人　", address(r, place(r)), "　", name(r, g), pick(r, "　印", ""))
    return d


# --- invoices ----------------------------------------------------------------------


def invoice(r: random.Random) -> Doc:
    d = Doc("invoice")
    issuer, client = company(r), company(r)
    sole = r.random() < 0.25
    owner = person(r)
    pl = place(r)
    d.line(pick(r, "請求書", "適格請求書", "御請求書", "請求書（適格請求書）"))
    d.line(f"請求書番号：{N.invoice_doc_no(r)}　発行日：{N.date(r, 'ja')}")
    d.line("")
    d.line(client.name, " 御中")
    if r.random() < 0.6:
        d.line(pick(r, "ご担当：", "担当："), name(r, person(r), r.choice(("nospace", "space"))), pick(r, "様", " 様"))
    d.line("")
    if sole:
        d.line(pick(r, "屋号：", ""), pick(r, "デザイン事務所 ", "", "翻訳サービス "), name(r, owner))
    else:
        d.line(issuer.name)
    d.line(*zip_with_mark(r, pl), " ", address(r, pl, office=not sole))
    d.line(pick(r, "TEL ", "電話：", "TEL："), phone(r, "mobile" if sole else "land"))
    d.line(pick(r, "登録番号：", "適格請求書発行事業者登録番号：", "登録番号 ", "インボイス登録番号："), invoice_number(r, sole_trader=sole))
    d.line("")
    d.line(pick(r, "品名\tJAN\t数量\t単価\t金額", "品名,JANコード,数量,単価,金額", "No. 品名 / JAN / 数量 / 単価 / 金額"))
    total = 0
    for i in range(r.randint(1, 6)):
        prod, price = r.choice(PRODUCTS)
        q = r.randint(1, 40)
        total += q * price
        d.line(f"{i + 1}. {prod}\t{N.jan(r)}\t{q}\t¥{price:,}\t¥{q * price:,}")
    d.line(f"小計 ¥{total:,}　消費税（10%）¥{total // 10:,}　合計 ¥{total + total // 10:,}")
    d.line("")
    bank, code = r.choice(BANKS)
    d.line(pick(r, "お振込先：", "振込先：", "【お振込先】"), f"{bank}（{code}）{r.choice(BRANCHES)}（{digits(r, 3)}）",
           pick(r, " 普通 ", " 普通預金 ", " 当座 ", "　普通　"), account_number(r))
    if sole:
        d.line("口座名義：", Span(NAME, owner.kata(r.choice((" ", "\u3000")))))
    else:
        d.line("口座名義：", issuer.kana)
    d.line(f"お支払期限：{N.date(r, 'ja')}　※振込手数料は貴社にてご負担ください。")
    return d


# --- chat ----------------------------------------------------------------------------


def chat_log(r: random.Random) -> Doc:
    d = Doc("chat_log")
    a, b = person(r), person(r)
    speaker_a = roman_name(r, a, r.choice(("upper_surname", "given_first", "surname_first")))
    speaker_b = r.choice((name(r, b, "nospace"), name(r, b, "space"), roman_name(r, b, "given_first")))
    h, m = r.randint(9, 20), r.randint(0, 50)

    def say(who: Span, *parts) -> None:
        nonlocal m
        m += r.randint(0, 3)
        d.line(f"[{h:02d}:{m:02d}] ", who, ": ", *parts)

    say(speaker_a, pick(r, "Hi, quick question about the invoice", "おつかれさまです！", "Hello, can you help me with my order?",
                       "明日の件ですが"))
    say(speaker_b, pick(r, "Sure, what's up?", "お疲れさまです。どうしました？", "はい、確認します。"))
    topic = r.choice(("address", "card", "phone", "meet", "account"))
    if topic == "address":
        pl = place(r, english=r.random() < 0.6)
        say(speaker_a, pick(r, "I moved. New address is ", "新しい住所はこちらです: "),
            address_en(r, pl) if pl.town_en() and pl.chome and r.random() < 0.7 else address(r, pl),
            " ", postal(r, pl))
        say(speaker_b, pick(r, "Thanks, updated.", "更新しました！", "了解です"))
    elif topic == "card":
        _, c = card(r)
        say(speaker_a, pick(r, "Please charge this card: ", "カードはこれでお願いします "), c,
            f" exp {expiry(r)}", " / ", roman_name(r, a, "upper"))
        say(speaker_b, pick(r, "Done. Please don't paste card numbers in chat next time 🙏", "決済完了しました。次回からチャットにカード番号は貼らないでください"))
    elif topic == "phone":
        say(speaker_a, pick(r, "Call me at ", "電話ください → ", "My number is "), phone(r, "mobile", r.choice(("intl_zero", "hyphen", "intl", "dot"))),
            pick(r, " after 6pm", "（18時以降）", "", " anytime"))
        say(speaker_b, pick(r, "OK, will call.", "了解、折り返します"))
    elif topic == "meet":
        say(speaker_a, f"{pick(r, 'Let us meet at', '待ち合わせは')} {N.station(r)} {pick(r, 'at', '')} {N.time_(r)}")
        say(speaker_b, pick(r, "OK! ", "了解です。"), pick(r, "I'll bring ", ""), name(r, person(r)) if r.random() < 0.5 else roman_name(r, person(r)),
            pick(r, " too", "さんも来ます", "も一緒です"))
    else:
        bank, _ = r.choice(BANKS)
        say(speaker_a, f"{pick(r, 'Refund to', '返金先は')} {bank} {r.choice(BRANCHES)} {pick(r, '普通', 'savings')} ", account_number(r),
            " ", Span(NAME, a.kata(" ")))
        say(speaker_b, pick(r, "Noted.", "承知しました。"))
    say(speaker_a, pick(r, "Thanks!", "ありがとうございます！", "thx", "助かります🙏"))
    return d


# --- server logs ---------------------------------------------------------------------


def server_log(r: random.Random) -> Doc:
    d = Doc("server_log")
    svc = r.choice(("api-gateway", "orders", "auth", "billing", "crm-sync", "mailer"))
    for _ in range(r.randint(5, 11)):
        ts = N.timestamp(r)
        kind = r.random()
        if kind < 0.35:
            d.line(f"{ts} INFO  [{svc}] ", N.kv_noise(r), f" status={r.choice((200, 200, 201, 204, 304))} path=/v{r.randint(1, 3)}/orders/{digits(r, 8)}")
        elif kind < 0.5:
            p = person(r)
            d.line(f"{ts} INFO  [{svc}] user signup email=", email(r, p), " name=\"", roman_name(r, p, r.choice(("given_first", "surname_first"))),
                   "\" ", N.kv_noise(r))
        elif kind < 0.6:
            d.line(f"{ts} WARN  [{svc}] sms delivery failed to=", phone(r, "mobile", r.choice(("e164", "e164", "hyphen", "plain"))),
                   f" retry={r.randint(1, 5)} ", N.kv_noise(r))
        elif kind < 0.7:
            p = person(r)
            d.line(f"{ts} DEBUG [{svc}] payload={{\"customer\":\"", name(r, p, "nospace"), "\",\"tel\":\"",
                   phone(r, None, r.choice(("hyphen", "plain"))), f"\",\"amount\":{r.randint(100, 99999)}}}")
        elif kind < 0.78:
            d.line(f"{ts} ERROR [{svc}] bounce from ", email(r, person(r)), f": 550 5.1.1 user unknown (queue_id={N.hexid(r, 10).upper()})")
        elif kind < 0.86:
            d.line(f"{ts} INFO  [{svc}] replication lag={r.randint(0, 99999)} bytes={digits(r, r.randint(5, 12))} "
                   f"wal_lsn={N.hexid(r, 2).upper()}/{N.hexid(r, 8).upper()}")
        elif kind < 0.89:
            _, c = card(r)
            d.line(f"{ts} ERROR [{svc}] payment gateway rejected request body card_number=", c,
                   f" exp={expiry(r)} amount={r.randint(100, 99999)} {N.kv_noise(r)}")
        elif kind < 0.93:
            pl = place(r)
            d.line(f"{ts} INFO  [{svc}] address normalized zip=", postal(r, pl, "plain"), " addr=\"", address(r, pl, bldg=False), "\" ",
                   N.kv_noise(r))
        else:
            d.line(f"{ts} INFO  [{svc}] deploy version={N.version(r)} build={digits(r, 8)} pod={svc}-{N.hexid(r, 9)}-{N.hexid(r, 5)}")
    return d


# --- news --------------------------------------------------------------------------


def news(r: random.Random) -> Doc:
    d = Doc("news")
    fig = public_figure(r)
    kind = r.random()
    city = place(r)
    if kind < 0.4:
        role, lead = PUBLIC_ROLES[fig.kanji()]
        d.line(pick(r, "【速報】", "", "＜経済＞", "（共同）"), lead, name(r, fig, "nospace"), role,
               pick(r, "が会見", "、新方針を表明", "の発言に注目集まる", "が来日企業トップと会談"))
        d.line("")
        d.line(f"{N.date(r, 'ja')}、{lead}", name(r, fig, "nospace"), role, "は",
               f"{N.station(r)}近くで記者団の取材に応じ、{pick(r, '来年度予算', '物価高対策', '今季の目標', '新事業', '賃上げ')}について語った。")
        d.line(pick(r, f"{N.big_company(r)}の株価は前日比{N.percent(r)}で引けた。", f"会場には約{r.randint(100, 3000)}人が集まった。",
                    f"関係者によると、{N.date(r, 'ja')}にも正式発表する見通し。"))
        if r.random() < 0.6:
            other = public_figure(r)
            role2, lead2 = PUBLIC_ROLES[other.kanji()]
            d.line(f"これに対し{lead2}", name(r, other, "nospace"), role2, "は",
                   f"「{pick(r, '慎重に議論すべきだ', '歓迎したい', '詳細を見て判断する')}」と述べた。")
        if r.random() < 0.4:
            d.line(surname(fig), role, pick(r, "は会見後、", "は同日夕、"), f"{N.station(r)}から{pick(r, '新幹線', '専用車')}で移動した。")
    elif kind < 0.75:
        p = person(r)
        age = r.randint(20, 85)
        d.line(f"{city.pref}{city.city}で{pick(r, '住宅火災', '交通事故', '詐欺被害', '落とし物の届け出')}")
        d.line("")
        d.line(f"{N.date(r, 'ja')}午{pick(r, '前', '後')}{r.randint(1, 11)}時ごろ、{city.city}{city.town}の{pick(r, '住宅', '交差点', 'コンビニ駐車場', '路上')}で、"
               f"{pick(r, '会社員', '無職', 'パート従業員', '自営業', '大学生')}の", name(r, p, "nospace"), f"さん（{age}）が",
               pick(r, "けがをして病院に運ばれた。", "被害に遭った。", "現金約30万円をだまし取られた。"))
        d.line(f"{city.pref}警{pick(r, '', '察本部')}によると、{pick(r, '目撃者の話では', '防犯カメラの映像から', '近所の人によると')}、"
               f"{N.time_(r)}ごろに{pick(r, '不審な男', '黒い車', '白いワゴン車')}が目撃されている。")
        if r.random() < 0.5:
            w = person(r)
            d.line(f"近くに住む{pick(r, '主婦', '男性', '店員', '会社員')}の", name(r, w, "nospace"), f"さん（{r.randint(20, 80)}）は"
                   f"「{pick(r, '大きな音がして驚いた', 'まさかこの辺りで', '普段は静かな場所なのに')}」と話した。")
    else:
        co = shop_company(r)
        fig2 = person(r)
        d.line(f"{co}、{pick(r, '新社長に', '新工場長に', '広報責任者に')}", name(r, fig2, "nospace"), "氏")
        d.line("")
        d.line(f"{co}は{N.date(r, 'ja')}、", name(r, fig2, "nospace"), f"{pick(r, '取締役', '執行役員', '常務')}（{r.randint(45, 65)}）が"
               f"{N.date(r, 'ja')}付で{pick(r, '社長', '代表取締役', 'CEO')}に昇格する人事を発表した。", surname(fig2),
               f"氏は{r.randint(1985, 2000)}年入社。{pick(r, '海外事業', '経理', '生産技術', '営業')}畑を歩んだ。")
        d.line(f"同社の{r.randint(2023, 2026)}年3月期の売上高は前期比{N.percent(r)}の{r.randint(100, 9000)}億円。"
               f"本社は{city.pref}{city.city}にある。")
    return d


# --- forms ----------------------------------------------------------------------------


def application_form(r: random.Random) -> Doc:
    d = Doc("application_form")
    p = person(r)
    pl = place(r)
    title = r.choice(("児童手当 認定請求書", "住所変更届", "会員登録申込書", "奨学金 申請書", "口座振替依頼書", "入会申込書"))
    d.line(f"【{title}】 申請日 {N.date(r, r.choice(('ja', 'reiwa', 'slash')))}")
    d.line(pick(r, "申請者氏名：", "申請者：", "お名前："), name(r, p), pick(r, "", "　印"))
    d.line(pick(r, "ふりがな：", "フリガナ："), kana_name(r, p, hiragana=r.random() < 0.6))
    d.line(f"生年月日：{N.birthdate(r)}")
    d.line("現住所：", *zip_with_mark(r, pl), pick(r, " ", "\n　　　　"), address(r, pl))
    d.line(pick(r, "電話番号（日中連絡先）：", "電話：", "連絡先電話番号："), phone(r), r.choice(("", "（携帯）", "（18時以降）")))
    if r.random() < 0.6:
        d.line("メールアドレス：", email(r, p))
    if "児童手当" in title or r.random() < 0.3:
        d.line("個人番号：", mynumber(r))
    if "児童" in title:
        for _ in range(r.randint(1, 3)):
            c = person(r)
            d.line("　対象児童：", name(r, type(p)(p.sei, c.mei, p.sei_yomi, c.mei_yomi, c.gender)),
                   f"（{r.randint(2010, 2024)}年生）　個人番号：", mynumber(r))
    if "口座" in title or "児童" in title or "奨学金" in title:
        bank, _code = r.choice(BANKS)
        if r.random() < 0.2:
            d.line("振込先：ゆうちょ銀行 記号番号 ", yucho_account(r))
        else:
            d.line(f"振込先：{bank} {r.choice(BRANCHES)} 普通 口座番号 ", account_number(r))
        d.line("口座名義（カナ）：", Span(NAME, p.kata(r.choice((" ", "\u3000")))))
        d.line(f"口座振替開始日：{N.date(r, r.choice(('compact', 'iso')))}（毎月{r.choice((5, 10, 27))}日引落）")
    if "勤務" in title or r.random() < 0.4:
        co = company(r)
        d.line("勤務先：", co.name, " 電話 ", phone(r, "land"))
    d.line(f"受付番号：{digits(r, 10)}　受付者：", surname(person(r)))
    return d


def delivery_slip(r: random.Random) -> Doc:
    d = Doc("delivery_slip")
    to, frm = person(r), person(r)
    pl_to, pl_from = place(r), place(r)
    d.line(pick(r, "宅急便 送り状控え", "配送伝票", "発送明細", "お届け先情報"))
    d.line(f"伝票番号：{N.tracking(r)}　出荷日：{N.date(r, 'slash')}")
    d.line("■お届け先")
    d.line("〒", postal(r, pl_to), pick(r, " ", "\n"), address(r, pl_to))
    d.line(name(r, to), pick(r, " 様", "様", " 様方"))
    d.line("TEL ", phone(r, None, r.choice(("hyphen", "paren", "plain"))))
    d.line("■ご依頼主")
    if r.random() < 0.5:
        co = company(r)
        d.line("〒", postal(r, pl_from), " ", address(r, pl_from, office=True))
        d.line(co.name, pick(r, " 通販事業部", " 出荷センター", ""))
        d.line("TEL ", phone(r, "free" if r.random() < 0.4 else "land"))
    else:
        d.line("〒", postal(r, pl_from), " ", address(r, pl_from))
        d.line(name(r, frm))
        d.line("TEL ", phone(r, "mobile"))
    d.line(f"品名：{r.choice(PRODUCTS)[0]} ほか　個数：{r.randint(1, 5)}　重量：{r.uniform(0.5, 25):.1f}kg")
    d.line(f"配達希望：{N.date(r, 'slash')} {pick(r, '午前中', '14-16時', '16-18時', '18-20時', '19-21時')}")
    d.line(f"代引金額：{pick(r, 'なし', N.amount(r, 1000, 50000))}　備考：{pick(r, '', '置き配可', '不在時は宅配ボックスへ', 'ワレモノ注意')}")
    return d


def meeting_minutes(r: random.Random) -> Doc:
    d = Doc("meeting_minutes")
    ps = [person(r) for _ in range(r.randint(3, 6))]
    cli, cli_p = company(r), person(r)
    d.line(f"議事録　{pick(r, '定例会議', 'プロジェクト進捗会議', '要件定義レビュー', '営業会議')}")
    d.line(f"日時：{N.date(r, 'ja')} {N.time_(r)}〜　場所：{pick(r, '本社 8F 会議室A', 'オンライン（Teams）', N.station(r) + '前 貸会議室')}")
    d.add("出席者：")
    for i, p in enumerate(ps):
        style = r.random()
        if style < 0.4:
            d.add(surname(p), r.choice(TITLES) if r.random() < 0.5 else "")
        elif style < 0.8:
            d.add(name(r, p))
        else:
            d.add(surname(p), "（", r.choice(("営業", "開発", "企画", "PM")), "）")
        d.add("、" if i < len(ps) - 1 else "")
    d.line(pick(r, "", "（記）", "　※敬称略"))
    d.line("社外：", cli.name, " ", surname(cli_p), pick(r, "様", " 様", "部長"))
    d.line("")
    d.line("1. 前回宿題事項の確認")
    d.line(f"　- 見積書（Q-{digits(r, 6)}）は{N.date(r, 'slash')}に送付済み。（担当：", surname(ps[0]), "）")
    d.line("2. 進捗報告")
    d.line(f"　- 開発は{r.randint(40, 95)}%完了。{N.version(r)}を{N.date(r, 'slash')}にリリース予定。")
    d.line(f"　- 課題：{pick(r, '性能要件の未達（p99 850ms）', '仕様変更の影響範囲', '予算超過リスク')}。", surname(ps[1]),
           pick(r, "さんが", "が", "部長が"), "調査する。")
    d.line("3. 次回")
    d.line(f"　{N.date(r, 'ja')} {N.time_(r)}〜 同会議室。資料準備：", name(r, ps[-1]))
    return d


def resume(r: random.Random) -> Doc:
    d = Doc("resume")
    p = person(r)
    pl = place(r)
    d.line(pick(r, "履歴書", "応募者情報", "エントリーシート（抜粋）"), f"　{N.date(r, 'ja')}現在")
    d.line("ふりがな　", kana_name(r, p, hiragana=True))
    d.line("氏名　　　", name(r, p, r.choice(("zenspace", "space"))))
    d.line(f"生年月日　{N.birthdate(r)}生（満{r.randint(22, 58)}歳）")
    d.line("現住所　　", *zip_with_mark(r, pl), " ", address(r, pl))
    d.line("電話　　　", phone(r, r.choice(("mobile", "land"))))
    d.line("E-mail　　", email(r, p))
    d.line("")
    d.line("学歴・職歴")
    y = r.randint(1990, 2015)
    d.line(f"{y}年3月　{pick(r, '県立', '私立', '市立')}{city_word(r)}高等学校 卒業")
    d.line(f"{y + 4}年3月　{city_word(r)}大学 {pick(r, '経済学部', '工学部', '文学部', '法学部')} 卒業")
    d.line(f"{y + 4}年4月　{company(r).name} 入社（{r.choice(DEPARTMENTS)}）")
    d.line(f"{y + r.randint(6, 10)}年{r.randint(1, 12)}月　一身上の都合により退職")
    d.line(f"資格：{pick(r, '普通自動車第一種運転免許', 'TOEIC 845点', '基本情報技術者', '日商簿記2級', '宅地建物取引士')}"
           f"（{N.date(r, 'ja')}取得）")
    d.line("本人希望記入欄：", pick(r, "勤務地は東京駅周辺を希望します。", "貴社規定に従います。", f"連絡は{N.time_(r)}以降にお願いします。"))
    return d


def city_word(r: random.Random) -> str:
    return r.choice(("東京", "大阪", "名古屋", "横浜", "福岡", "札幌", "仙台", "神戸", "京都", "千葉", "広島", "北九州"))


def business_card(r: random.Random) -> Doc:
    d = Doc("business_card_ocr")
    p, co = person(r), company(r)
    pl = place(r)
    d.line(pick(r, "[名刺OCR]", "名刺データ取込", "Sansan取込結果", "スキャン結果"), f" {N.date(r, 'iso')}")
    d.line(co.name)
    d.line(r.choice(DEPARTMENTS), " ", r.choice(TITLES))
    d.line(name(r, p, r.choice(("space", "zenspace"))))
    d.line(roman_name(r, p, r.choice(("upper_surname", "given_first", "upper"))))
    d.line(*zip_with_mark(r, pl), " ", address(r, pl, office=True, pref=r.random() < 0.7))
    d.line(pick(r, "TEL ", "T ", "Tel "), phone(r, "land", r.choice(("intl_zero", "intl_zero_space", "dot", "hyphen", "paren"))),
           pick(r, "  ", " / "), pick(r, "FAX ", "F "), phone(r, "land", r.choice(("dot", "hyphen"))))
    d.line(pick(r, "Mobile ", "M ", "携帯 "), phone(r, "mobile", r.choice(("intl_zero", "dot", "hyphen", "intl_zero_space"))))
    d.line(email(r, p, co.domain))
    if r.random() < 0.4:
        pe = place(r, english=True)
        d.line(address_en(r, pe), " ", postal(r, pe, "hyphen"), " Japan")
    return d


def customer_json(r: random.Random) -> Doc:
    d = Doc("customer_json")
    d.line(f"// export customers {N.date(r, 'iso')} rows={r.randint(2, 5)} schema={N.version(r)}")
    for _ in range(r.randint(2, 5)):
        p = person(r)
        pl = place(r)
        d.add('{"id":', str(r.randint(10000, 999999)), ',"name":"', name(r, p, r.choice(("space", "nospace"))), '","kana":"',
              kana_name(r, p), '","tel":"', phone(r, None, r.choice(("hyphen", "plain", "e164"))), '","zip":"',
              postal(r, pl, r.choice(("hyphen", "plain"))), '","address":"', address(r, pl), '","email":"', email(r, p),
              f'","points":{r.randint(0, 20000)},"last_order":"{N.date(r, "iso")}","jan":"{N.jan(r)}"}}\n')
    return d


def rental_application(r: random.Random) -> Doc:
    d = Doc("rental_application")
    p, g = person(r), person(r)
    pl_now, pl_new, pl_g = place(r), place(r), place(r)
    co = company(r)
    d.line(f"入居申込書　物件：{building(r, pl_new)}（{pl_new.city}{pl_new.town}）　申込日 {N.date(r, 'ja')}")
    d.line(f"仲介：{r.choice(('ひかり不動産', 'あおば不動産', 'さくらハウジング', 'みどりエステート'))} {N.station(r)}前店")
    d.line("申込者：", name(r, p), "（", kana_name(r, p), "）", f" 生年月日 {N.birthdate(r)}")
    d.line("現住所：", *zip_with_mark(r, pl_now), " ", address(r, pl_now))
    d.line("携帯：", phone(r, "mobile"), "　メール：", email(r, p))
    d.line("勤務先：", co.name, f"　勤続{r.randint(1, 25)}年　年収{r.randint(300, 1200)}万円　勤務先TEL ", phone(r, "land"))
    d.line("連帯保証人：", name(r, g), f"（{pick(r, '父', '母', '兄', '叔父')}）", "　住所：", address(r, pl_g), "　電話：", phone(r))
    d.line(f"希望入居日：{N.date(r, 'slash')}　賃料 {N.amount(r, 60000, 250000)}　敷金1ヶ月　礼金{r.randint(0, 2)}ヶ月")
    return d


def card_dispute(r: random.Random) -> Doc:
    d = Doc("card_dispute")
    p = person(r)
    brand, c = card(r)
    d.line(f"【カード利用に関するお問い合わせ】受付番号 {N.ticket_no(r)}")
    d.line("会員氏名：", name(r, p), "　カード名義：", roman_name(r, p, "upper"))
    d.line("カード番号：", c, f"（{brand.upper()}）　有効期限：{expiry(r)}")
    d.line(f"ご利用日：{N.date(r, 'slash')}　ご利用先：{pick(r, 'AMAZON.CO.JP', 'ｾﾌﾞﾝｲﾚﾌﾞﾝ', 'APPLE.COM/BILL', 'JR東日本 えきねっと', 'UBER EATS')}　"
           f"金額：{N.amount(r, 300, 200000)}")
    d.line(f"内容：{pick(r, '身に覚えのない請求です。', '二重に請求されています。', '返品済みなのに返金されていません。')}")
    d.line("連絡先：", phone(r, "mobile"), pick(r, "（平日18時以降）", "", "（日中可）"))
    if r.random() < 0.4:
        d.line("引落口座：", r.choice(BANKS)[0], " ", r.choice(BRANCHES), " 普通 ", account_number(r))
    d.line("オペレーター：", surname(person(r)), f"　対応日時：{N.date(r, 'ja')} {N.time_(r)}")
    return d


def refund_request(r: random.Random) -> Doc:
    d = Doc("refund_request")
    p = person(r)
    bank, code = r.choice(BANKS)
    d.line(f"件名：返金先口座のご連絡（注文番号 {N.order_no(r)}）")
    d.line("")
    d.line(pick(r, "ご担当者様", "カスタマーセンター御中"))
    d.line(f"{N.date(r, 'ja')}に返品した商品の返金先を以下にお願いします。")
    d.line(f"銀行名：{bank}（金融機関コード {code}）")
    d.line(f"支店名：{r.choice(BRANCHES)}（支店番号 {digits(r, 3)}）")
    d.line(f"口座種別：{pick(r, '普通', '普通預金', '当座')}")
    d.line("口座番号：", account_number(r))
    d.line("口座名義：", kana_name(r, p))
    d.line(f"返金額：{N.amount(r, 500, 80000)}（口座振替日 {N.date(r, 'compact')} 予定と伺っています）")
    d.line("")
    d.line(name(r, p))
    d.line(phone(r, "mobile", r.choice(("hyphen", "plain", "zen"))))
    return d


def insurance_claim(r: random.Random) -> Doc:
    d = Doc("insurance_claim")
    p = person(r)
    pl = place(r)
    d.line(f"事故報告書　証券番号 {r.choice(('A', 'B', 'K'))}{digits(r, 9)}　受付 {N.date(r, 'ja')}")
    d.line("契約者：", name(r, p), "（", kana_name(r, p), "）")
    d.line("住所：", *zip_with_mark(r, pl), " ", address(r, pl))
    d.line("連絡先：", phone(r), "　", email(r, p))
    d.line(f"事故日時：{N.date(r, 'ja')} {N.time_(r)}ごろ")
    d.line(f"事故場所：{pl.city}内 {pick(r, '国道沿いの交差点', N.station(r) + '付近の駐車場', '自宅車庫前')}")
    other = person(r)
    d.line("相手方：", name(r, other), "　", phone(r, "mobile"), f"　車両 {pick(r, '品川', '横浜', 'なにわ', '福岡')} {r.randint(300, 599)} "
           f"{pick(r, 'あ', 'さ', 'わ', 'か')} {r.randint(10, 99)}-{r.randint(10, 99)}")
    d.line(f"状況：{pick(r, '信号待ちで停車中に後方から追突された。', '駐車場内で後退時に接触。', '車線変更時に接触。')}")
    d.line(f"修理見積：{N.amount(r, 30000, 900000)}（{pick(r, 'つばさ自動車整備', 'みどりモータース', 'コスモ石油 表参道SS')}）")
    return d


def contact_list(r: random.Random) -> Doc:
    d = Doc("contact_list")
    d.line(f"{pick(r, 'PTA 連絡網', '自治会 班長名簿', 'サークル会員名簿', '防災連絡網')}（{N.date(r, 'ja')}更新）")
    d.line(pick(r, "No.\t氏名\tふりがな\t電話\t備考", "No. 氏名 / ふりがな / 電話 / 備考"))
    for i in range(r.randint(3, 8)):
        p = person(r)
        d.line(f"{i + 1}\t", name(r, p), "\t", kana_name(r, p, hiragana=True), "\t", phone(r, r.choice(("mobile", "land"))), "\t",
               pick(r, "", "班長", "会計", f"{r.randint(1, 6)}年{r.randint(1, 4)}組", "平日夜のみ"))
    return d


def sms_message(r: random.Random) -> Doc:
    d = Doc("sms")
    p = person(r)
    a = r.random()
    if a < 0.3:
        d.line(surname(p), pick(r, "です！", "です。"), f"明日{N.time_(r)}に{N.station(r)}の{pick(r, '改札', '中央口', '西口')}で。",
               "何かあれば", phone(r, "mobile", r.choice(("hyphen", "plain"))), "に電話ください")
    elif a < 0.55:
        d.line(f"【{r.choice(('さくら内科', 'あおば歯科', 'ひだまりクリニック'))}】", name(r, p, "nospace"),
               f"様 {N.date(r, 'ja')} {N.time_(r)}のご予約を承りました。変更は", phone(r, "land"), "まで")
    elif a < 0.8:
        d.line(pick(r, "お疲れさまです、", "お世話になります。"), name(r, p, "nospace"), pick(r, "です。", "と申します。"),
               "住所変更です→", address(r, place(r)))
    else:
        d.line("Hi this is ", roman_name(r, p, "given_first"), ". My new mail is ", email(r, p), " and cell ", phone(r, "mobile", "intl"))
    return d


def tax_form(r: random.Random) -> Doc:
    d = Doc("tax_form")
    p = person(r)
    pl = place(r)
    co = company(r)
    d.line(f"{pick(r, '令和7年分', '令和8年分')} 給与所得者の扶養控除等（異動）申告書（入力内容確認）")
    d.line(f"源泉徴収義務者：{co.name}　法人番号：", corpnum(r))
    d.line("所在地：", address(r, place(r), office=True))
    d.line("氏名：", name(r, p), "　フリガナ：", kana_name(r, p), "　個人番号：", mynumber(r))
    d.line(f"生年月日：{N.birthdate(r)}　世帯主：本人")
    d.line("住所：", *zip_with_mark(r, pl), " ", address(r, pl))
    if r.random() < 0.7:
        sp = person(r, "f" if p.gender == "m" else "m")
        d.line("源泉控除対象配偶者：", name(r, type(p)(p.sei, sp.mei, p.sei_yomi, sp.mei_yomi, sp.gender)),
               "　個人番号：", mynumber(r), f"　所得見積額 {N.amount(r, 0, 950000)}")
    for _ in range(r.randint(0, 2)):
        c = person(r)
        d.line("控除対象扶養親族：", name(r, type(p)(p.sei, c.mei, p.sei_yomi, c.mei_yomi, c.gender)),
               f"（子・{r.randint(2000, 2012)}年生）個人番号：", mynumber(r))
    return d


def vendor_registration(r: random.Random) -> Doc:
    d = Doc("vendor_registration")
    co = company(r)
    rep, staff = person(r), person(r)
    pl = place(r)
    sep = r.choice((",", "\t"))
    if r.random() < 0.5:
        d.line(f"取引先登録申請　{N.date(r, 'ja')}")
        d.line(f"商号：{co.name}")
        d.line("法人番号：", corpnum(r), "　適格請求書発行事業者登録番号：", invoice_number(r))
        d.line("代表者：代表取締役 ", name(r, rep))
        d.line("本店所在地：", *zip_with_mark(r, pl), " ", address(r, pl, office=True))
        d.line("担当者：", name(r, staff), f"（{r.choice(DEPARTMENTS)}）　", phone(r, "land"), "　", email(r, staff, co.domain))
        bank, _code = r.choice(BANKS)
        d.line(f"振込口座：{bank} {r.choice(BRANCHES)} 当座 ", account_number(r), f"　名義 {co.kana}")
        d.line(f"資本金：{r.randint(1, 500) * 1000}万円　設立：{r.randint(1950, 2022)}年　従業員数：{r.randint(5, 3000)}名")
    else:
        d.line(sep.join(("取引先コード", "法人番号", "登録番号", "商号", "電話", "資本金(千円)", "設立年月日")))
        for _ in range(r.randint(2, 6)):
            c2 = company(r)
            d.add(f"V{digits(r, 6)}{sep}", corpnum(r, "plain"), sep, invoice_number(r, style="plain"), f"{sep}{c2.name}{sep}",
                  phone(r, "land", r.choice(("hyphen", "plain"))), f"{sep}{r.randint(10, 500000)}{sep}{N.date(r, 'compact')}\n")
    return d


# name-bearing documents where the label is a surname + title (部長, 様) in running text
def internal_memo(r: random.Random) -> Doc:
    d = Doc("internal_memo")
    a, b, c = person(r), person(r), person(r)
    d.line(f"To: {pick(r, '各位', '営業部各位', '関係者各位')}")
    d.line("From: ", r.choice(DEPARTMENTS), " ", name(r, a))
    d.line(f"件名：{pick(r, '人事異動のお知らせ', '出張報告', '社内システム停止のお知らせ', '来客予定')}")
    d.line("")
    k = r.random()
    if k < 0.35:
        d.line(f"{N.date(r, 'ja')}付で、", name(r, b), f"さんが{r.choice(DEPARTMENTS)}{r.choice(TITLES)}に着任します。"
               "後任は", surname(c), pick(r, "さん", "主任", "係長"), "です。")
    elif k < 0.7:
        d0, d1 = N.date_range(r, max_days=5)
        d.line(f"{d0}〜{d1}、{N.station(r)}経由で{pick(r, '大阪', '福岡', '札幌', '仙台')}へ出張しました。")
        d.line("訪問先：", company(r).name, " ", surname(b), pick(r, "様", "部長", "社長"), "、", shop_company(r), " ", surname(c), "様")
        d.line(f"交通費：{N.amount(r, 10000, 90000)}（新幹線 のぞみ{r.randint(1, 99)}号）")
    else:
        d.line(f"{N.date(r, 'ja')} {N.time_(r)}に", company(r).name, "の", name(r, b, "nospace"), "様がご来社予定です。",
               "受付で", surname(c), "を呼び出してください（内線", str(r.randint(1000, 4999)), "）。")
    return d


def fax_order(r: random.Random) -> Doc:
    d = Doc("fax_order")
    p = person(r)
    pl = place(r)
    d.line(pick(r, "FAX注文書", "ご注文用紙（FAX専用）", "カタログ通販 FAXご注文票"), f"　FAX送信日 {N.date(r, 'slash')}")
    d.line(f"送信先：{r.choice(('ひかり通販', 'さくらダイレクト', 'みどり健康食品', 'つばさショップ'))} 受注センター")
    d.line("お名前：", name(r, p), "　フリガナ：", kana_name(r, p))
    d.line("ご住所：", *zip_with_mark(r, pl), " ", address(r, pl))
    d.line("お電話：", phone(r, None, r.choice(("hyphen", "paren", "zen", "plain"))), r.choice(("", "（昼間）", "（FAX兼用）")))
    d.line("商品コード\t商品名\t数量")
    for _ in range(r.randint(1, 4)):
        d.line(f"{N.part_no(r)}\t{r.choice(PRODUCTS)[0]}\t{r.randint(1, 6)}")
    d.line("お支払方法：クレジットカード（一括）")
    _, c = card(r)
    d.line("カード番号：", c, f"　有効期限：{expiry(r)}")
    d.line("カード名義：", roman_name(r, p, "upper"))
    d.line(f"お届け希望日：{N.date(r, 'ja')}　{pick(r, '午前中', '夕方', '指定なし')}")
    return d


def hotel_booking(r: random.Random) -> Doc:
    d = Doc("hotel_booking")
    p = person(r)
    _, c = card(r)
    d.line(f"Reservation {pick(r, 'confirmation', 'guarantee form', 'request')} / ご予約{pick(r, '確認', '保証書')}  No. {r.choice('HRK')}{digits(r, 8)}")
    d.line("Guest name / 宿泊者名: ", roman_name(r, p, r.choice(("upper_surname", "upper", "given_first"))),
           pick(r, " 様", ""))
    if r.random() < 0.5:
        d.line("漢字氏名：", name(r, p))
    d.line(f"Check-in: {N.date(r, 'iso')} {pick(r, '15:00', '16:00', 'late (after 22:00)')}  Check-out: {N.date(r, 'iso')}")
    d.line(f"Room: {pick(r, 'Standard Twin', 'Deluxe Double', '和室 10畳', 'Superior King')} x {r.randint(1, 3)}  Rate: JPY {r.randint(9, 80) * 1000:,}/night")
    d.line("Phone: ", phone(r, "mobile", r.choice(("intl", "intl_space", "hyphen", "e164"))), "  E-mail: ", email(r, p))
    d.line("Card / カード: ", c, f"  Exp. {expiry(r)}  Holder: ", roman_name(r, p, "upper"))
    d.line(f"Note: {pick(r, '空港送迎希望（羽田空港 20:10着）', 'Non-smoking please.', '記念日のためケーキ手配', 'Late arrival, via 博多駅.')}")
    return d


def expense_report(r: random.Random) -> Doc:
    d = Doc("expense_report")
    p = person(r)
    _, c = card(r)
    d.line(f"経費精算書　申請番号 EX-{digits(r, 6)}　申請日 {N.date(r, 'slash')}")
    d.line("申請者：", r.choice(DEPARTMENTS), " ", name(r, p), f"（社員番号 {digits(r, 6, '1')}）")
    d.line("法人カード：", c, pick(r, "", f"（{r.choice(BANKS)[0]}発行）"))
    d.line("日付\t支払先\t登録番号\t金額\t区分")
    for _ in range(r.randint(2, 5)):
        d.line(f"{N.date(r, 'slash')}\t{r.choice(('東横INN 博多駅前', 'JR東海 新幹線', 'タクシー 日本交通', '居酒屋 とり吉', 'ファミリーマート博多駅前店', 'カフェ・ド・ミモザ'))}\t",
               invoice_number(r), f"\t{N.amount(r, 300, 60000)}\t{pick(r, '交通費', '宿泊費', '会議費', '交際費')}")
    d.line(f"合計：{N.amount(r, 3000, 200000)}　承認者：", surname(person(r)), pick(r, "部長", "課長", ""))
    return d


POSITIVE = (
    (support_ticket, 55),
    (support_ticket_en, 22),
    (lambda r: hr_export(r, tsv=False), 30),
    (lambda r: hr_export(r, tsv=True), 20),
    (sales_email, 55),
    (english_email, 18),
    (medical_intake, 35),
    (contract, 30),
    (invoice, 40),
    (chat_log, 35),
    (server_log, 28),
    (news, 40),
    (application_form, 28),
    (delivery_slip, 22),
    (meeting_minutes, 20),
    (resume, 15),
    (business_card, 18),
    (customer_json, 10),
    (rental_application, 12),
    (card_dispute, 20),
    (fax_order, 28),
    (hotel_booking, 18),
    (expense_report, 14),
    (refund_request, 12),
    (insurance_claim, 10),
    (contact_list, 8),
    (sms_message, 18),
    (tax_form, 12),
    (vendor_registration, 15),
    (internal_memo, 15),
)


def dump_json(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)
