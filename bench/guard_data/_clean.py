# ruff: noqa: E501  (template text: one document line per source line reads better than wrapped strings)
"""Templates of documents with no personal data at all, full of hard negatives."""

from __future__ import annotations

import random

import _noise as N
from _kit import Doc, company, pick, place
from _pools import BANKS, BIG_COMPANIES, BRANCHES, DEPARTMENTS, PRODUCTS, SHOPS
from _values import digits, zen

CLINICS = tuple(s for s in SHOPS if s.endswith(("内科", "歯科", "皮膚科", "眼科", "クリニック", "整骨院", "接骨院")))


def product_catalog(r: random.Random) -> Doc:
    d = Doc("clean_product_catalog")
    d.line(f"{pick(r, '2026年春', '秋冬', '新商品', '業務用')} 商品カタログ　価格改定 {N.date(r, 'ja')}")
    d.line(pick(r, "品番\t商品名\tJANコード\t入数\t希望小売価格", "品番,商品名,JANコード,入数,希望小売価格"))
    sep = "\t" if r.random() < 0.5 else ","
    for _ in range(r.randint(4, 10)):
        prod, price = r.choice(PRODUCTS)
        d.line(sep.join((N.part_no(r), prod, N.jan(r), str(r.choice((1, 6, 10, 12, 24, 48))), f"{price * r.randint(1, 3)}")))
    d.line(f"※価格は税抜です。{pick(r, '送料は5,000円以上で無料。', '最小発注単位はケース単位です。', '在庫状況は営業日10時に更新。')}")
    if r.random() < 0.5:
        d.line(f"{pick(r, 'お問い合わせの際は', 'ご連絡時は', '電話でのご注文時は')}品番（{N.part_no(r)}）と数量をお知らせください。")
    if r.random() < 0.4:
        d.line(f"関連書籍：ISBN {N.isbn(r)}（{r.randint(800, 3800)}円＋税）")
    return d


def server_log_clean(r: random.Random) -> Doc:
    d = Doc("clean_server_log")
    svc = r.choice(("api-gateway", "orders", "inventory", "batch", "search", "replicator", "scheduler"))
    host = f"{svc}-{r.randint(1, 9)}.prod.internal"
    for _ in range(r.randint(6, 14)):
        ts = N.timestamp(r)
        k = r.random()
        if k < 0.4:
            d.line(f"{ts} INFO  [{svc}] host={host} ", N.kv_noise(r), f" status={r.choice((200, 200, 204, 404, 500))}")
        elif k < 0.55:
            d.line(f"{ts} WARN  [{svc}] replication lag={r.randint(1, 99999)} bytes={digits(r, r.randint(6, 13))} behind_ms={r.randint(1, 9999)}")
        elif k < 0.65:
            d.line(f"{ts} INFO  [{svc}] GET /api/v2/items/{N.jan(r)} 200 {r.randint(1, 900)}ms bytes={r.randint(100, 99999)}")
        elif k < 0.75:
            d.line(f"{ts} ERROR [{svc}] timeout after {r.randint(1000, 30000)}ms upstream=inventory:{r.choice((8080, 9000, 5432))} "
                   f"req_id={digits(r, 12)} attempt={r.randint(1, 5)}")
        elif k < 0.85:
            d.line(f"{ts} INFO  [{svc}] batch job={N.hexid(r, 8)} processed rows={r.randint(1, 10 ** 6)} elapsed={r.uniform(0.1, 900):.3f}s "
                   f"order_id={digits(r, 13)}")
        elif k < 0.93:
            d.line(f"{ts} INFO  [{svc}] started version={N.version(r)} go=go1.{r.randint(18, 24)}.{r.randint(0, 9)} pid={r.randint(100, 65000)}")
        else:
            d.line(f"{ts} DEBUG [{svc}] cache hit ratio={r.uniform(0.5, 1):.4f} keys={digits(r, 7)} evictions={r.randint(0, 999)} "
                   f"trace_id={digits(r, 16)}")
    return d


def release_notes(r: random.Random) -> Doc:
    d = Doc("clean_release_notes")
    v = N.version(r)
    d.line(f"## {v} ({N.date(r, 'iso')})")
    d.line("")
    for _ in range(r.randint(3, 7)):
        d.line(f"- {pick(r, 'Fixed', 'Added', 'Changed', '修正', '追加', '改善')}: "
               f"{pick(r, 'CSVエクスポートで日付が20230224形式になる問題', 'タイムアウトを30秒から60秒に変更', 'JANコード検索の高速化', 'ログのbytes=値が負になる不具合', 'Python 3.12 対応', 'メモリ使用量を約35%削減')}"
               f" ({N.ticket_no(r)})")
    d.line("")
    d.line(f"Upgrade: `pip install product=={v}`  Checksum: sha256:{N.hexid(r, 64)}")
    return d


def sales_report(r: random.Random) -> Doc:
    d = Doc("clean_sales_report")
    d.line(f"月次売上報告（{r.randint(2023, 2026)}年{r.randint(1, 12)}月度）")
    d.line("店舗\t売上高\t前年比\t客数\t客単価")
    for _ in range(r.randint(4, 9)):
        store = r.choice(("表参道店", "博多駅前店", "梅田本店", "札幌大通店", "名古屋栄店", "天神店", "横浜西口店", "仙台一番町店",
                          "東京駅八重洲店", "京都四条店", "三宮センター街店", "那覇国際通り店"))
        d.line(f"{store}\t{N.amount(r, 1_000_000, 90_000_000)}\t{N.percent(r)}\t{r.randint(1000, 40000):,}\t{r.randint(800, 9000):,}円")
    d.line(f"合計 {N.amount(r, 50_000_000, 500_000_000)}（予算比 {N.percent(r)}）")
    d.line(f"所見：{pick(r, '気温上昇で飲料が好調。', 'インバウンド需要で都心店が伸長。', '天候不順で来店客が減少。')}"
           f"{pick(r, '次月は新商品投入を予定。', '在庫回転日数は12.4日。', '')}")
    return d


def meeting_notice(r: random.Random) -> Doc:
    d = Doc("clean_meeting_notice")
    d.line(f"{pick(r, '全社会議', '新年会', '安全衛生委員会', '四半期キックオフ', '製品説明会')}開催のお知らせ")
    d.line("")
    t0, t1 = N.time_range(r)
    d.line(f"日時：{N.date(r, 'ja')}（{pick(r, '月', '火', '水', '木', '金')}）{t0}〜{t1}")
    d.line(f"会場：{pick(r, '東京駅 八重洲口 徒歩3分 貸会議室', '博多駅 筑紫口 ホテル宴会場', '本社 15階 大会議室', '表参道ヒルズ スペース オー', '幕張メッセ 国際会議場')}")
    d.line(f"対象：{pick(r, '全従業員', '各部署の担当者', '管理職', '新入社員')}（約{r.randint(20, 500)}名）")
    d.line(f"参加費：{pick(r, '無料', N.amount(r, 1000, 8000))}　申込締切：{N.date(r, 'slash')}")
    d.line(f"内容：{pick(r, '上期実績報告、下期方針説明', '新製品 ' + N.part_no(r) + ' の紹介', 'ハラスメント防止研修', '表彰式')}")
    d.line(f"※オンライン参加はTeamsの会議ID {digits(r, 3)} {digits(r, 3)} {digits(r, 3)} {digits(r, 3)}、パスコード {N.hexid(r, 6)}")
    d.line(f"問い合わせ：{r.choice(DEPARTMENTS)}（社内ポータルのフォームから）")
    return d


def travel_itinerary(r: random.Random) -> Doc:
    d = Doc("clean_travel")
    d.line(f"出張行程表　予約番号 {r.choice('ABCDEFGHJK')}{digits(r, 7)}")
    d.line(f"{N.date(r, 'ja')}")
    d.line(f"  {N.time_(r)} {pick(r, '東京', '品川', '新横浜')} 発 → のぞみ{r.randint(1, 259)}号 {r.randint(1, 16)}号車{r.randint(1, 20)}番{r.choice('ABCDE')}席"
           f" → {pick(r, '新大阪', '京都', '名古屋', '博多')} 着 {N.time_(r)}")
    d.line(f"  {pick(r, '博多駅', '新大阪駅', '京都駅', '名古屋駅')}から地下鉄で{r.randint(5, 25)}分、{pick(r, '天神', '梅田', '四条', '栄')}で打ち合わせ")
    d.line(f"  宿泊：{pick(r, 'ホテル日航', '東横INN', 'ダイワロイネット', 'リッチモンドホテル')} {pick(r, '博多駅前', '梅田', '四条烏丸', '名古屋栄')}"
           f"（{r.randint(1, 3)}泊、確認番号 {digits(r, 10)}）")
    d.line(f"{N.date(r, 'ja')}")
    d.line(f"  {N.time_(r)} {pick(r, '福岡空港', '伊丹空港', '中部国際空港')} 発 → {pick(r, 'JAL', 'ANA', 'SKY')}{r.randint(100, 999)}便 → 羽田空港 着 {N.time_(r)}")
    d.line(f"概算費用：{N.amount(r, 30000, 150000)}（交通費）＋{N.amount(r, 8000, 40000)}（宿泊）")
    return d


def shop_notice(r: random.Random) -> Doc:
    d = Doc("clean_shop_notice")
    k = r.random()
    s = r.choice(CLINICS if k < 0.4 else SHOPS)
    if k < 0.4:
        d.line(f"【{s}】{pick(r, '休診', '臨時休業', '営業時間変更')}のお知らせ")
        d.line(f"{N.date(r, 'ja')}（{pick(r, '土', '日', '月')}）は{pick(r, '院長不在のため', '設備点検のため', '研修のため')}休診いたします。")
        t0, t1 = N.time_range(r)
        d.line(f"診療時間：平日 {t0}〜{t1}、土曜 9:00〜12:30（日祝休診）")
        d.line(f"お急ぎの方は近隣の{r.choice(SHOPS)}をご利用ください。ご予約はWeb予約ページから24時間受付中です。")
    elif k < 0.7:
        d.line(f"{s}より春のキャンペーンのご案内")
        a, b = N.date_range(r, max_days=60)
        d.line(f"期間：{a}〜{b}")
        d.line(f"対象：{pick(r, '新規ご成約のお客様', '初回ご来店の方', '会員ランクゴールド以上')}に{pick(r, 'クオカード3,000円分', '仲介手数料50%OFF', '10%割引クーポン')}")
        d.line(f"場所：{N.station(r)}{pick(r, '徒歩2分', '直結', '東口すぐ')}（{pick(r, '1階', '2F', 'B1')}）")
        d.line(f"クーポンコード：SPRING{r.randint(2024, 2026)}-{N.hexid(r, 4).upper()}")
    else:
        d.line(f"{s} 口コミ（★{r.randint(1, 5)}）")
        d.line(f"{pick(r, '先生が丁寧でした。', 'スタッフの対応が良かった。', '待ち時間が長い（約90分）。', '駅から近くて便利。')}"
               f"{N.station(r)}から{r.randint(1, 15)}分。{pick(r, '駐車場は3台分。', '土曜も開いていて助かります。', '')}"
               f" 投稿日 {N.date(r, 'slash')}")
    return d


def inventory_csv(r: random.Random) -> Doc:
    d = Doc("clean_inventory")
    sep = r.choice((",", "\t"))
    d.line(sep.join(("品番", "JAN", "ロケーション", "在庫数", "引当数", "最終入荷日", "単価")))
    for _ in range(r.randint(5, 12)):
        d.line(sep.join((N.part_no(r), N.jan(r), f"{r.choice('ABCDEF')}-{r.randint(1, 30):02d}-{r.randint(1, 12):02d}",
                         str(r.randint(0, 5000)), str(r.randint(0, 300)), N.date(r, r.choice(("compact", "iso", "slash"))),
                         str(r.randint(50, 90000)))))
    d.line(f"# 出力 {N.timestamp(r)} 件数 {r.randint(100, 20000)} 倉庫 {pick(r, '厚木DC', '大阪南港センター', '福岡箱崎倉庫', '江東区新木場倉庫')}")
    return d


def accounting_journal(r: random.Random) -> Doc:
    d = Doc("clean_journal")
    d.line(pick(r, "仕訳帳（抜粋）", "入出金明細", "口座振替結果"))
    d.line("伝票番号,日付,勘定科目,取引先,借方,貸方,摘要")
    for _ in range(r.randint(4, 10)):
        co = company(r) if r.random() < 0.6 else None
        d.line(",".join((digits(r, 12, "123456789") if r.random() < 0.3 else f"{r.randint(1, 99999):06d}",
                         N.date(r, r.choice(("compact", "iso", "slash"))),
                         r.choice(("売掛金", "買掛金", "普通預金", "当座預金", "支払手数料", "消耗品費", "旅費交通費", "通信費")),
                         co.name if co else r.choice(BIG_COMPANIES),
                         str(r.randint(100, 9_999_999)), str(r.randint(0, 99_999)),
                         pick(r, "口座振替", "振込手数料", "月額利用料", "出張旅費精算", "口座振替日 " + N.date(r, "compact")))))
    bank, _code = r.choice(BANKS)
    d.line(f"振替口座：{bank} {r.choice(BRANCHES)}　振替日：{N.date(r, 'compact')}　件数 {r.randint(1, 300)}　合計 {N.amount(r)}")
    return d


def news_clean(r: random.Random) -> Doc:
    d = Doc("clean_news")
    k = r.random()
    if k < 0.35:
        d.line(f"日経平均、{pick(r, '反発', '続落', '最高値更新')}　終値は{r.randint(30000, 45000):,}円{r.randint(10, 99)}銭")
        d.line(f"{N.date(r, 'ja')}の東京株式市場で日経平均株価は前日比{r.randint(10, 900)}円{pick(r, '高', '安')}。"
               f"{r.choice(BIG_COMPANIES)}や{r.choice(BIG_COMPANIES)}が{pick(r, '買われた', '売られた')}。東証プライムの売買代金は概算{r.randint(2, 7)}兆{r.randint(1000, 9999)}億円。")
        d.line(f"円相場は1ドル={r.randint(130, 160)}円{r.randint(10, 99)}銭前後。")
    elif k < 0.65:
        p = place(r)
        d.line(f"{p.pref}で猛暑日　{p.city}で{r.uniform(35, 40):.1f}度")
        d.line(f"気象庁によると、{N.date(r, 'ja')}は高気圧に覆われ、{p.city}で最高気温{r.uniform(35, 40):.1f}度を観測した。"
               f"{pick(r, '東京都心', '大阪市', '名古屋市', '福岡市')}も{r.uniform(30, 37):.1f}度まで上がった。")
        d.line(f"{N.station(r)}周辺では{pick(r, '日傘をさす人の姿が目立った', '給水所が設けられた', '熱中症で搬送される人が相次いだ')}。")
    else:
        co = r.choice(BIG_COMPANIES)
        d.line(f"{co}、{r.randint(2025, 2027)}年3月期は{pick(r, '増収増益', '減益', '過去最高益')}の見通し")
        d.line(f"{co}は{N.date(r, 'ja')}、連結業績予想を{pick(r, '上方', '下方')}修正した。売上高は前期比{N.percent(r)}の{r.randint(1, 50)}兆{r.randint(100, 9999)}億円、"
               f"営業利益は{r.randint(100, 9999)}億円を見込む。{pick(r, '北米での販売が好調', '円安が追い風', '原材料高が重荷')}。")
    return d


def it_incident(r: random.Random) -> Doc:
    d = Doc("clean_it_incident")
    d.line(f"障害報告 {N.ticket_no(r)}　重大度：{pick(r, 'S1', 'S2', 'S3')}")
    d.line(f"発生：{N.timestamp(r)}　復旧：{N.timestamp(r)}")
    d.line(f"影響：{pick(r, '決済API', '検索', 'バッチ連携', '社内ポータル')}で{pick(r, 'エラー率12.4%', 'p99レイテンシ 8,400ms', '全断 23分')}")
    d.line(f"原因：{pick(r, 'DBレプリカの遅延（lag=48213 ms）', 'TLS証明書の期限切れ', '設定ミス（max_connections=100）', 'ディスク逼迫（使用率 97%）')}")
    d.line(f"エラーコード：0x{N.hexid(r, 8).upper()} / KB{digits(r, 7)} / {pick(r, 'ORA-01555', 'ECONNRESET', 'HTTP 503', 'E11000')}")
    d.line(f"ログ抜粋：req_id={digits(r, 12)} bytes={digits(r, r.randint(6, 13))} lag={digits(r, r.randint(2, 13))} node=db-{r.randint(1, 6)}")
    d.line(f"対応：{N.version(r)} にロールバック後、{N.version(r)} で恒久対応。再発防止策は{N.date(r, 'slash')}のレビューで決定。")
    return d


def policy_doc(r: random.Random) -> Doc:
    d = Doc("clean_policy")
    d.line(pick(r, "就業規則（抜粋）", "経費精算規程", "情報セキュリティ規程", "テレワーク勤務規程"))
    d.line(f"第{r.randint(1, 40)}条（{pick(r, '適用範囲', '勤務時間', '精算期限', '持出し制限')}）")
    d.line(f"1 {pick(r, '始業は9時00分、終業は18時00分とする。', '精算は発生日から30日以内に行う。', '個人情報を含む媒体の社外持出しは禁止する。')}")
    d.line(f"2 {pick(r, '1回あたり5,000円を超える場合は事前承認を要する。', '在宅勤務は週3日を上限とする。', '違反した場合は第52条に従い処分する。')}")
    d.line(f"附則　本規程は{N.date(r, 'ja')}から施行する。（改定 第{r.randint(2, 9)}版、{N.date(r, 'ja')}）")
    return d


def tracking_status(r: random.Random) -> Doc:
    d = Doc("clean_tracking")
    d.line(f"お問い合わせ伝票番号：{N.tracking(r)}")
    for _ in range(r.randint(3, 6)):
        d.line(f"{N.date(r, 'slash')} {N.time_(r)}　{pick(r, '荷物受付', '発送', '輸送中', '配達店到着', '配達中', '配達完了')}　"
               f"{pick(r, '羽田クロノゲート', '厚木ゲートウェイ', '関西ゲートウェイ', '博多駅前センター', '新宿御苑センター', '梅田北センター')}")
    d.line(f"サイズ：{r.choice((60, 80, 100, 120, 140))}　{pick(r, '通常', 'クール冷蔵', 'クール冷凍')}　運賃 {N.amount(r, 800, 4000)}")
    return d


def bank_notice(r: random.Random) -> Doc:
    """Announcements about 口座振替 with dates and amounts but no account."""
    d = Doc("clean_bank_notice")
    bank, code = r.choice(BANKS)
    d.line(f"【{bank}】口座振替日変更のお知らせ（金融機関コード {code}）")
    d.line(f"{N.date(r, 'ja')}の口座振替は、休日のため{N.date(r, 'compact')}に変更となります。")
    d.line(f"対象：{pick(r, '電気料金', '水道料金', 'クレジットカード利用代金', '保険料')}　振替予定額は{N.amount(r)}を上限とします。")
    t0, t1 = N.time_range(r)
    d.line(f"システムメンテナンス：{N.date(r, 'iso')} {t0}〜{t1}（ATM・インターネットバンキング停止）")
    d.line(f"手数料改定：{r.choice(BRANCHES)}窓口での振込 {N.amount(r, 220, 880)} → {N.amount(r, 330, 990)}（{N.date(r, 'ja')}以降）")
    return d


def fullwidth_table(r: random.Random) -> Doc:
    d = Doc("clean_fullwidth_table")
    d.line("項目　　　　数値　　　前年　　　増減")
    for item in r.sample(("売上高", "営業利益", "経常利益", "受注残", "在庫金額", "人件費", "設備投資"), r.randint(3, 6)):
        a, b = r.randint(1000, 999999), r.randint(1000, 999999)
        d.line(f"{item}　　{zen(f'{a:,}')}　　{zen(f'{b:,}')}　　{zen(f'{a - b:+,}')}")
    d.line(f"（単位：千円、{zen(N.date(r, 'slash'))}現在）")
    return d


CLEAN = (
    (product_catalog, 14),
    (server_log_clean, 16),
    (release_notes, 9),
    (sales_report, 10),
    (meeting_notice, 10),
    (travel_itinerary, 9),
    (shop_notice, 14),
    (inventory_csv, 10),
    (accounting_journal, 9),
    (news_clean, 12),
    (it_incident, 9),
    (policy_doc, 6),
    (tracking_status, 6),
    (bank_notice, 6),
    (fullwidth_table, 5),
)
