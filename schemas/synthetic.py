"""Synthetic township populations: residents, families and years of care.

SYNTHETIC DATA ONLY: every name, number and visit is made up.

Rules:
1. Pure: no I/O beyond the shipped code lists, no clock reads, randomness only
   from ``random.Random(seed)``; ``today`` is passed in. The same arguments
   give the same items, in the same order, with the same contents.
2. Every item is valid for ``schemas.validate(type, data, today=today)`` once
   its refs are resolved; every date lies on or before ``today``.
3. Items come in dependency order, household by household: a ref (a dotted
   path inside ``data`` -> the key of an earlier item) never leaves its
   household, and every key starts with its household's key (``H12/...``), so
   a loader may forget a household's ids once the next household begins.
4. Codes come only from the code lists; the tables below are checked against
   them when first used, so a renamed code fails loudly, not as bad data.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from typing import Any

from ._codes import code_list
from ._idnumber import check_digit

__all__ = ["SynthRecord", "SynthResident", "generate", "township_codes"]

COUNTY = "511321"
DEFAULT_TOWNSHIP = "511321100"


@dataclass(frozen=True)
class SynthResident:
    """A resident to register. ``refs`` maps ``family.mother_id`` etc. to earlier residents' keys."""

    key: str
    data: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    newborn: bool = False  # born during the generated period (not part of ``residents``)


@dataclass(frozen=True)
class SynthRecord:
    """A clinical record of ``resident_key``; ``refs`` maps dotted paths in ``data`` to earlier keys."""

    key: str
    resident_key: str
    type: str
    data: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)


SynthItem = SynthResident | SynthRecord


def township_codes() -> list[str]:
    """The 9-digit township codes of the demo county, in code order."""
    return [c.code for c in code_list("division").codes if len(c.code) == 9 and c.code.startswith(COUNTY)]


def generate(
    *,
    residents: int,
    years: int = 3,
    seed: int = 1,
    today: dt.date,
    township: str | None = None,
) -> Iterator[SynthItem]:
    """Yield a township of ``residents`` people and ``years`` years of their care before ``today``.

    Births during the period add newborn residents (``SynthResident.newborn``)
    beyond ``residents``. ``township`` is a 9-digit code or a township's name.
    """
    if residents < 1:
        raise ValueError(f"residents: {residents} must be at least 1")
    if years < 0:
        raise ValueError(f"years: {years} must not be negative")
    town = _township(_township_code(township))
    gen = _Generator(random.Random(seed), today=today, years=years, town=town)
    yield from gen.run(residents)


def _township_code(township: str | None) -> str:
    codes = township_codes()
    if township is None:
        return DEFAULT_TOWNSHIP if DEFAULT_TOWNSHIP in codes else codes[0]
    divisions = code_list("division")
    for code in codes:
        entry = divisions.get(code)
        if township in (code, entry.zh if entry else None, entry.en if entry else None):
            return code
    raise ValueError(f"township: {township!r} is not a township of county {COUNTY} ({', '.join(codes)})")


# --- names ------------------------------------------------------------------------------------

# Relative frequencies (roughly per ten thousand), national with a Sichuan (Nanchong) tilt.
_SURNAMES = (
    "李740 王710 张700 刘540 陈450 杨310 何180 罗140 赵230 黄220 周210 吴200 徐160 孙150 "
    "胡130 朱120 高120 林120 郭110 马100 梁80 宋80 郑80 谢80 韩70 唐90 冯70 于30 董60 程60 "
    "曹60 袁80 邓90 许60 傅40 沈40 彭70 吕40 苏50 卢50 蒋60 蔡50 贾40 丁40 魏40 薛30 叶40 "
    "余60 潘40 杜50 戴30 夏30 钟40 汪30 田40 任50 姜30 范30 方30 石40 姚30 谭40 廖40 邹30 "
    "熊30 金20 陆20 郝20 孔20 白20 崔20 康20 毛30 邱30 秦20 江20 史20 顾10 侯50 邵20 孟20 "
    "龙30 万20 段20 雷30 钱10 汤20 尹20 黎20 易20 常10 武10 乔10 贺20 赖20 龚20 文30 敬40 "
    "蒲50 苟30 母20 鲜20 岳20 伏10 衡10 青10 "
    # the ones clerks and search get wrong (曾 zeng, 单 shan, 解 xie, 仇 qiu, 朴 piao, 区 ou, 查 zha)
    "曾50 单12 解12 仇10 朴6 区6 查10 "
    # compound surnames
    "欧阳6 司马4 诸葛3"
)
_SURNAME_TABLE: tuple[tuple[str, float], ...] = tuple(
    (m.group(1), float(m.group(2))) for m in re.finditer(r"(\D+?)(\d+)\s*", _SURNAMES.replace(" ", ""))
)
_COMPOUND = ("欧阳", "司马", "诸葛")

# Given-name characters by birth decade and sex: (first characters, second characters, share of
# one-character names). Older generations share a generation character (字辈) among brothers.
_ERAS: tuple[tuple[int, dict[str, tuple[str, str, float]]], ...] = (
    (1950, {"1": ("德福贵富明国成树文友志永发全清荣顺海长云光正才学宗金玉开绍世", "明华成林清山才贵富发全荣顺海云光福寿昌财金堂生元田", 0.05),
            "2": ("秀玉桂淑素翠凤春金银兰碧琼菊", "英兰芳珍凤华芝莲清贞香蓉秀", 0.05)}),
    (1965, {"1": ("建国军红卫志永明德光文学正长春忠泽朝天洪", "国华明军平民强林忠祥兵东生安发成福", 0.08),
            "2": ("秀玉淑素桂春翠红凤建小", "英兰芳珍华琼群蓉清梅萍霞芝凤", 0.08)}),
    (1980, {"1": ("建志晓小红海永文明国春德军卫宏", "军平勇华兵明刚斌林强波伟东涛辉", 0.2),
            "2": ("晓小丽红秀春海玉美燕", "红霞丽梅燕萍芳琴英玲华琼蓉莉", 0.2)}),
    (1995, {"1": ("小晓俊建志文海宏永明家", "伟杰涛磊鹏浩斌超俊波亮强飞军勇林辉龙", 0.3),
            "2": ("小晓丽春秀美海雪", "丽娟婷静敏艳莉倩雪丹燕玲霞琴慧芳", 0.3)}),
    (2010, {"1": ("子浩宇俊家志明文嘉佳思", "杰涛鹏浩宇超俊磊鑫帅豪翔凯阳林涵", 0.15),
            "2": ("佳思欣雨雪晓梦诗婉紫", "婷静敏倩雪丹欣悦琳璐颖娇蕾洁怡琪", 0.15)}),
    (9999, {"1": ("子梓浩宇俊一沐奕锦睿嘉皓", "轩宸辰睿涵铭泽宇豪杰航博然熙阳", 0.05),
            "2": ("梓欣雨一若诗佳可思语依紫", "涵萱汐诺欣怡琪悦彤馨瑶然妍菲", 0.05)}),
)
# Yi (Nuosu) and Tibetan names are given whole, with their romanisation.
_YI_SURNAMES = (("吉克", "Jjike"), ("阿苦", "Axku"), ("沙马", "Shama"), ("俄木", "Womu"), ("曲比", "Qubi"),
                ("马海", "Mahxi"))
_YI_GIVEN = {"1": (("拉且", "Lache"), ("日布", "Rybu"), ("木呷", "Muga"), ("尔古", "Ergu"), ("伍沙", "Vusha")),
             "2": (("阿依", "Ayi"), ("么呷", "Mogga"), ("伍呷", "Vuga"), ("阿果", "Aguo"), ("石哈", "Shyha"))}
_TIBETAN = {"1": (("扎西", "Tashi"), ("次仁", "Tsering"), ("多吉", "Dorje")),
            "2": (("卓玛", "Drolma"), ("拉姆", "Lhamo"), ("央金", "Yangchen"))}
_TUJIA_SURNAMES = ("向", "田", "冉", "彭", "覃")
_STREETS = ("滨江路", "人民路", "正东街", "西河路", "新华街", "建设路", "解放路", "北门街", "火峰路", "大北街")
_AWAY_CITIES = ("广东东莞", "浙江宁波", "福建晋江", "成都", "重庆", "江苏苏州", "新疆", "广东深圳")


# --- calendar -----------------------------------------------------------------------------------

_YEAR = 365.25
_SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 12,
    "winter": (2.0, 1.8, 1.3, 1.0, 0.7, 0.5, 0.5, 0.5, 0.7, 1.0, 1.4, 1.9),
    "flu": (3.0, 2.4, 1.0, 0.4, 0.2, 0.1, 0.2, 0.2, 0.2, 0.4, 1.2, 2.6),
    "summer": (0.4, 0.4, 0.6, 0.8, 1.3, 1.9, 2.2, 2.1, 1.4, 0.8, 0.5, 0.4),
    "spring": (0.5, 0.5, 1.2, 1.8, 2.0, 1.6, 1.0, 0.7, 0.6, 0.6, 0.5, 0.5),
    "autumn": (1.8, 1.2, 0.6, 0.4, 0.3, 0.3, 0.3, 0.4, 0.8, 1.6, 2.2, 2.2),
    "farm": (0.6, 0.6, 0.9, 1.2, 1.6, 1.5, 1.0, 1.1, 1.4, 1.3, 0.8, 0.6),
    "heat": (0.0, 0.0, 0.0, 0.1, 0.6, 2.0, 4.0, 4.0, 1.0, 0.1, 0.0, 0.0),
}


# --- outpatient conditions ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dx:
    """An outpatient diagnosis with who gets it, when, and what a township doctor does about it."""

    icd: str
    ages: tuple[int, int]
    weight: float
    season: str
    fever: float  # probability of a fever
    complaint: str  # {n}: duration
    illness: str
    exam: str
    adult_rx: tuple[tuple[str, ...], ...]
    child_rx: tuple[tuple[str, ...], ...] = ()
    sex: str | None = None
    requires: str | None = None  # a chronic condition the patient must have
    lab: tuple[str, float] | None = None  # (panel, probability)
    imaging: tuple[str, float] | None = None
    dept: str = "全科"
    advice: str = "注意休息，多饮水，清淡饮食；如症状加重或持续不缓解，及时复诊。"
    unit: str = "天"
    span: tuple[int, int] = (1, 5)
    infection: str = ""  # "bacterial" / "viral": shapes a blood count


_DX: tuple[_Dx, ...] = (
    _Dx("J06.9", (0, 99), 12, "winter", 0.5, "咳嗽、流涕{n}天", "{n}天前受凉后出现咳嗽、流涕、咽部不适，{fever}无胸痛、气促。",
        "咽部充血，扁桃体无肿大，双肺呼吸音清，未闻及干湿啰音。",
        (("ganmao_qingre_granule", "paracetamol_500mg_tab"), ("lianhua_qingwen_cap", "paracetamol_500mg_tab"),
         ("banlangen_granule", "compound_licorice_tab")),
        (("paracetamol_oral_susp", "xiaochaihu_granule"), ("ibuprofen_oral_susp", "shuanghuanglian_oral_liquid")),
        lab=("cbc", 0.15), infection="viral"),
    _Dx("J00", (0, 99), 5, "winter", 0.15, "鼻塞、流涕、打喷嚏{n}天", "{n}天前受凉后鼻塞、流清涕，{fever}无咳痰。",
        "鼻黏膜充血，咽稍红，双肺呼吸音清。",
        (("ganmao_qingre_granule",), ("chlorphenamine_4mg_tab", "vitamin_c_100mg_tab")),
        (("xiaochaihu_granule",),), infection="viral"),
    _Dx("J02.9", (5, 99), 4, "winter", 0.2, "咽痛{n}天", "{n}天前出现咽痛，吞咽时加重，{fever}无声嘶。",
        "咽部充血明显，咽后壁淋巴滤泡增生，扁桃体无肿大。",
        (("pudilan_xiaoyan_tab",), ("yinqiao_jiedu_tab", "niuhuang_jiedu_tab")),
        (("pudilan_xiaoyan_tab",),), infection="viral"),
    _Dx("J03.9", (3, 45), 3, "winter", 0.85, "发热、咽痛{n}天", "{n}天前出现咽痛，{fever}吞咽困难，无咳嗽。",
        "咽部充血，双侧扁桃体Ⅱ度肿大，表面可见脓性分泌物。",
        (("amoxicillin_250mg_cap", "paracetamol_500mg_tab", "pudilan_xiaoyan_tab"),
         ("cefuroxime_axetil_250mg_tab", "paracetamol_500mg_tab")),
        (("amoxicillin_125mg_granule", "ibuprofen_oral_susp"),), lab=("cbc", 0.6), infection="bacterial"),
    _Dx("J20.9", (0, 99), 6, "winter", 0.3, "咳嗽、咳痰{n}天", "{n}天前受凉后出现咳嗽，咳少量白色黏痰，{fever}无咯血、胸痛。",
        "咽部充血，双肺呼吸音粗，可闻及散在干啰音。",
        (("amoxicillin_clavulanate_375mg_tab", "ambroxol_30mg_tab"), ("azithromycin_250mg_tab", "jizhi_syrup"),
         ("ambroxol_30mg_tab", "qiangli_pipa_lu")),
        (("ambroxol_oral_solution", "azithromycin_100mg_granule"),), lab=("cbc", 0.4), imaging=("chest", 0.35),
        infection="bacterial", span=(3, 10)),
    _Dx("J18.9", (50, 99), 1.2, "winter", 0.9, "发热、咳嗽、咳痰{n}天", "{n}天前出现咳嗽、咳黄痰，{fever}伴乏力、纳差。",
        "右下肺呼吸音减低，可闻及湿啰音。",
        (("ceftriaxone_1g_inj", "nacl_0_9pct_100ml", "ambroxol_30mg_tab"),
         ("levofloxacin_500mg_inj", "ambroxol_30mg_tab")),
        lab=("cbc", 0.9), imaging=("pneumonia", 0.9), infection="bacterial", span=(2, 7),
        advice="按时用药，注意休息；3天后复诊，如高热不退、气促加重立即就诊或转上级医院。"),
    _Dx("J18.0", (0, 6), 1.5, "winter", 0.9, "发热、咳嗽{n}天", "{n}天前出现咳嗽，有痰不易咳出，{fever}精神欠佳。",
        "双肺呼吸音粗，可闻及中细湿啰音。", (),
        (("azithromycin_100mg_granule", "ambroxol_oral_solution", "ibuprofen_oral_susp"),),
        lab=("cbc", 0.9), imaging=("pneumonia", 0.8), infection="bacterial", dept="儿科", span=(2, 5)),
    _Dx("J11.1", (0, 99), 2.5, "flu", 1.0, "高热、头痛、全身酸痛{n}天", "{n}天前突起发热，{fever}伴头痛、全身肌肉酸痛、乏力，家中有类似病人。",
        "急性热病容，咽部充血，双肺呼吸音清。",
        (("oseltamivir_75mg_cap", "paracetamol_500mg_tab"), ("lianhua_qingwen_cap", "paracetamol_500mg_tab")),
        (("ibuprofen_oral_susp", "xiaochaihu_granule"),), lab=("cbc", 0.3), infection="viral", span=(1, 3)),
    _Dx("J21.9", (0, 1), 2, "winter", 0.4, "咳嗽、喘息{n}天", "{n}天前出现咳嗽、喘息，{fever}吃奶尚可。",
        "呼吸稍促，双肺可闻及哮鸣音及少许湿啰音。", (),
        (("ambroxol_oral_solution",),), imaging=("chest", 0.3), dept="儿科", infection="viral"),
    _Dx("B08.4", (1, 5), 2, "spring", 0.7, "发热、手足皮疹{n}天", "{n}天前出现手、足皮疹，{fever}伴口腔疼痛、流涎。",
        "手、足、臀部见散在斑丘疹、疱疹，口腔黏膜可见疱疹。", (),
        (("ibuprofen_oral_susp", "shuanghuanglian_oral_liquid"),), dept="儿科", span=(1, 3),
        advice="居家隔离2周，勤洗手，餐具消毒；如出现精神差、呕吐、肢体抖动立即就诊。", infection="viral"),
    _Dx("B08.5", (1, 6), 1.5, "summer", 0.9, "发热、咽痛、拒食{n}天", "{n}天前出现咽痛、拒食，{fever}无皮疹。",
        "咽部充血，咽峡部可见数个疱疹及溃疡。", (),
        (("ibuprofen_oral_susp", "shuanghuanglian_oral_liquid"),), dept="儿科", span=(1, 3), infection="viral"),
    _Dx("A09", (0, 99), 5, "summer", 0.2, "腹泻{n}天", "{n}天前进食不洁食物后出现腹泻，每日4-6次稀水样便，{fever}无黏液脓血便。",
        "腹软，脐周轻压痛，无反跳痛，肠鸣音活跃。",
        (("montmorillonite_3g_powder", "norfloxacin_100mg_cap"),
         ("montmorillonite_3g_powder", "bifidobacterium_triple_cap", "ors_iii_powder")),
        (("montmorillonite_3g_powder", "ors_iii_powder"), ("montmorillonite_3g_powder", "bifidobacterium_triple_cap")),
        lab=("cbc", 0.2), span=(1, 3), advice="注意饮食卫生，少量多次口服补液；如尿少、精神差、便血及时就诊。"),
    _Dx("A08.0", (0, 3), 2, "autumn", 0.5, "呕吐、腹泻{n}天", "{n}天前出现呕吐，继之腹泻，蛋花汤样便每日5-8次，{fever}尿量稍少。",
        "精神稍差，前囟稍凹陷，腹软，肠鸣音活跃。", (),
        (("montmorillonite_3g_powder", "ors_iii_powder"),), dept="儿科", span=(1, 3), infection="viral",
        advice="口服补液盐少量多次喂服，继续母乳喂养；如尿少、嗜睡立即就诊。"),
    _Dx("K29.7", (16, 99), 4, "flat", 0.0, "上腹部隐痛、反酸{n}周", "{n}周来反复上腹部隐痛，进食后加重，伴反酸、嗳气。",
        "上腹部轻压痛，无反跳痛，墨菲征阴性。",
        (("omeprazole_20mg_cap", "hydrotalcite_500mg_tab"), ("omeprazole_20mg_cap", "domperidone_10mg_tab"),
         ("xiangsha_yangwei_pill", "famotidine_20mg_tab")),
        imaging=("abdomen", 0.15), unit="周", span=(1, 8), advice="规律饮食，忌辛辣、烟酒、浓茶；症状反复建议上级医院胃镜检查。"),
    _Dx("K29.1", (16, 80), 1.5, "summer", 0.1, "恶心、呕吐、上腹痛{n}天", "{n}天前饮酒后出现上腹痛，伴恶心、呕吐胃内容物，{fever}",
        "上腹部压痛，无反跳痛及肌紧张。", (("omeprazole_20mg_cap", "domperidone_10mg_tab"),), span=(1, 2)),
    _Dx("K30", (18, 99), 1.5, "flat", 0.0, "饭后饱胀、嗳气{n}周", "{n}周来饭后上腹饱胀、嗳气，无呕血、黑便，体重无明显变化。",
        "腹软，无压痛。", (("domperidone_10mg_tab", "xiangsha_yangwei_pill"),), unit="周", span=(2, 12)),
    _Dx("K59.0", (60, 99), 1.5, "winter", 0.0, "排便困难{n}天", "{n}天未解大便，腹胀，平素大便干结。",
        "腹稍胀，左下腹可触及粪块，无压痛。", (("lactulose_oral_solution",), ("glycerol_enema_20ml",)), span=(3, 7)),
    _Dx("M54.5", (25, 99), 4, "farm", 0.0, "腰痛{n}天", "{n}天前农活劳累后出现腰部酸痛，弯腰及久坐后加重，无下肢放射痛。",
        "腰部肌肉紧张，L4-5棘突旁压痛，直腿抬高试验阴性。",
        (("diclofenac_sr_75mg_tab", "shexiang_zhuanggu_plaster"), ("meloxicam_7_5mg_tab", "diclofenac_emulgel")),
        imaging=("lspine", 0.15), span=(2, 20), advice="注意休息，避免弯腰负重，局部热敷。"),
    _Dx("M17.9", (50, 99), 4, "winter", 0.0, "双膝关节疼痛{n}月", "{n}月来双膝关节疼痛，上下楼及下蹲时加重，休息后减轻。",
        "双膝关节无红肿，活动时可闻及骨擦音，浮髌试验阴性。",
        (("meloxicam_7_5mg_tab", "diclofenac_emulgel"), ("shexiang_zhuanggu_plaster", "calcium_carbonate_d3_tab")),
        imaging=("knee", 0.2), unit="月", span=(1, 24), advice="减少爬坡、负重，适当减重，注意膝关节保暖。"),
    _Dx("M75.0", (45, 75), 1.5, "winter", 0.0, "右肩疼痛、活动受限{n}月", "{n}月来右肩疼痛，夜间明显，梳头、穿衣困难。",
        "右肩关节外展、后伸受限，肩峰下压痛。", (("meloxicam_7_5mg_tab", "shexiang_zhuanggu_plaster"),),
        unit="月", span=(1, 6), advice="坚持爬墙等肩关节功能锻炼，局部热敷。"),
    _Dx("M54.2", (30, 80), 1.5, "flat", 0.0, "颈部酸痛{n}天", "{n}天前低头劳作后颈部酸痛，转头受限，无上肢麻木。",
        "颈部肌肉紧张，C5-6棘突旁压痛，臂丛牵拉试验阴性。", (("diclofenac_emulgel", "shexiang_zhuanggu_plaster"),),
        span=(2, 14)),
    _Dx("M10.9", (35, 85), 1, "summer", 0.1, "右足第一跖趾关节红肿疼痛{n}天", "{n}天前饮酒、进食海鲜后夜间突发右足第一跖趾关节红肿、剧痛，{fever}",
        "右足第一跖趾关节红肿，皮温高，压痛明显。", (("colchicine_0_5mg_tab", "diclofenac_sr_75mg_tab"),),
        sex="1", span=(1, 3), advice="多饮水，低嘌呤饮食，戒酒；缓解后复查血尿酸。"),
    _Dx("R42", (50, 99), 2, "flat", 0.0, "头晕{n}天", "{n}天前出现头晕，改变体位时明显，无视物旋转，无肢体麻木无力。",
        "神志清，颈软，四肢肌力正常，病理征阴性，闭目难立征阴性。",
        (("betahistine_6mg_tab",), ("flunarizine_5mg_cap",)), imaging=("ecg", 0.3), span=(1, 7)),
    _Dx("I25.1", (50, 99), 3, "winter", 0.0, "活动后胸闷{n}天", "{n}天来活动后胸闷，休息数分钟可缓解，无放射痛，无大汗。",
        "双肺呼吸音清，心率齐，各瓣膜听诊区未闻及病理性杂音。",
        (("isosorbide_mononitrate_20mg_tab", "aspirin_ec_100mg_tab", "atorvastatin_20mg_tab"),
         ("compound_danshen_dripping_pill", "aspirin_ec_100mg_tab")),
        requires="chd", imaging=("ecg", 0.8), lab=("lipids", 0.3), span=(2, 14),
        advice="避免劳累、饱餐及受凉；胸痛持续超过15分钟不缓解立即拨打120。"),
    _Dx("I10", (18, 99), 6, "flat", 0.0, "高血压复诊取药", "", "双肺呼吸音清，心率齐，双下肢无水肿。", (),
        requires="htn", lab=("lipids", 0.1), imaging=("ecg", 0.15), advice="低盐饮食，规律服药，每日监测血压。"),
    _Dx("E11.9", (18, 99), 6, "flat", 0.0, "糖尿病复诊取药", "", "双下肢无水肿，足背动脉搏动可。", (),
        requires="dm", lab=("glucose", 0.6), advice="控制饮食，适量运动，规律服药，监测血糖，注意足部护理。"),
    _Dx("J44.1", (40, 99), 4, "winter", 0.3, "咳嗽、咳痰、气喘加重{n}天", "慢性咳嗽、咳痰多年，{n}天前受凉后咳嗽加重，咳黄痰，活动后气喘，{fever}",
        "桶状胸，双肺呼吸音低，可闻及散在干湿啰音。",
        (("budesonide_formoterol_160_inh", "ambroxol_30mg_tab", "amoxicillin_clavulanate_375mg_tab"),
         ("salbutamol_aerosol_100ug", "aminophylline_100mg_tab", "ambroxol_30mg_tab")),
        requires="copd", imaging=("copd", 0.5), lab=("cbc", 0.5), infection="bacterial", span=(2, 10),
        advice="戒烟，注意保暖，坚持规范吸入治疗；气喘明显加重、口唇发绀时立即就诊。"),
    _Dx("E78.5", (35, 99), 1, "flat", 0.0, "体检发现血脂异常{n}周", "{n}周前体检发现血脂偏高，无胸闷、胸痛。",
        "心肺查体无异常。", (("atorvastatin_20mg_tab",),), requires="cardio", lab=("lipids", 1.0), unit="周",
        span=(1, 6), advice="低脂饮食，适量运动，4-6周后复查血脂及肝功能。"),
    _Dx("L30.9", (0, 99), 2, "summer", 0.0, "皮肤瘙痒、红斑{n}天", "{n}天前双上肢出现红斑、丘疹，瘙痒明显，夜间加重。",
        "双前臂见对称分布红斑、丘疹，部分抓痕、结痂。",
        (("hydrocortisone_butyrate_cream", "loratadine_10mg_tab"), ("compound_dexamethasone_cream", "calamine_lotion")),
        (("calamine_lotion",), ("hydrocortisone_butyrate_cream",)), span=(2, 14)),
    _Dx("L50.9", (3, 99), 1.5, "spring", 0.0, "全身风团、瘙痒{n}天", "{n}天前无明显诱因全身出现风团，瘙痒，此起彼伏，无呼吸困难。",
        "躯干、四肢散在大小不等风团，皮肤划痕征阳性。",
        (("loratadine_10mg_tab", "calamine_lotion"), ("cetirizine_10mg_tab",)), (("calamine_lotion",),), span=(1, 5)),
    _Dx("B35.3", (16, 80), 1, "summer", 0.0, "足趾间瘙痒、脱皮{n}周", "{n}周来双足趾间瘙痒、脱皮，夏季加重。",
        "双足第3-4趾间浸渍、脱屑。", (("terbinafine_cream",),), unit="周", span=(1, 8)),
    _Dx("L74.0", (0, 6), 1, "heat", 0.0, "颈背部红色小丘疹{n}天", "{n}天前天气炎热后颈背部出现密集红色小丘疹，瘙痒。",
        "颈部、背部见密集针尖大小红色丘疹。", (), (("calamine_lotion",),), dept="儿科", span=(1, 4),
        advice="保持皮肤清洁干燥，衣着宽松，避免过热。"),
    _Dx("H10.9", (3, 99), 1.5, "spring", 0.0, "双眼红、分泌物增多{n}天", "{n}天前出现双眼发红、异物感，晨起分泌物多。",
        "双眼结膜充血，可见少许黏性分泌物，角膜透明。",
        (("levofloxacin_eye_drops",), ("chloramphenicol_eye_drops",)), (("chloramphenicol_eye_drops",),),
        span=(1, 4), advice="勿用手揉眼，毛巾单独使用，按时滴眼。"),
    _Dx("H66.9", (2, 12), 1, "winter", 0.5, "耳痛{n}天", "感冒后{n}天出现右耳痛，{fever}无耳道流脓。",
        "右耳鼓膜充血、内陷，标志不清。", (("amoxicillin_250mg_cap", "ofloxacin_ear_drops"),),
        (("amoxicillin_125mg_granule", "ofloxacin_ear_drops"),), infection="bacterial", span=(1, 4)),
    _Dx("N39.0", (18, 90), 2, "summer", 0.1, "尿频、尿急、尿痛{n}天", "{n}天前出现尿频、尿急、尿痛，{fever}无肉眼血尿及腰痛。",
        "下腹部轻压痛，双肾区无叩痛。", (("levofloxacin_500mg_tab",), ("nitrofurantoin_50mg_tab",)),
        sex="2", lab=("urine", 0.8), span=(1, 4), advice="多饮水，勤排尿，注意个人卫生。"),
    _Dx("N76.0", (20, 60), 1.5, "summer", 0.0, "白带增多、外阴瘙痒{n}天", "{n}天来白带增多，外阴瘙痒。",
        "外阴潮红，阴道内见较多白色分泌物。",
        (("metronidazole_200mg_tab", "clotrimazole_500mg_vag_tab"), ("clotrimazole_500mg_vag_tab",)),
        sex="2", dept="妇科", span=(3, 14)),
    _Dx("N40", (55, 99), 2, "winter", 0.0, "夜尿增多、排尿不畅{n}月", "{n}月来夜尿3-4次，排尿费力、尿线变细，无肉眼血尿。",
        "下腹部无膨隆，双肾区无叩痛。", (("tamsulosin_0_2mg_cap",), ("finasteride_5mg_tab", "tamsulosin_0_2mg_cap")),
        sex="1", imaging=("urinary", 0.25), unit="月", span=(2, 24)),
    _Dx("S61.0", (8, 75), 1.5, "farm", 0.0, "左手手指割伤{n}小时", "{n}小时前劳作时不慎被镰刀割伤左手示指，当即出血，自行压迫止血后来诊。",
        "左手示指掌侧见一长约2cm伤口，深及皮下，边缘整齐，活动性出血已止，末梢血运好。",
        (("povidone_iodine_solution", "tetanus_antitoxin_1500iu_inj"), ("povidone_iodine_solution", "cefradine_250mg_cap")),
        (("povidone_iodine_solution", "tetanus_antitoxin_1500iu_inj"),), dept="外科", unit="小时", span=(1, 4),
        advice="伤口保持清洁干燥，隔日换药，7-10天拆线。"),
    _Dx("S93.4", (8, 70), 1, "farm", 0.0, "右踝扭伤肿痛{n}小时", "{n}小时前下坡行走时扭伤右踝，局部肿痛，尚能跛行。",
        "右外踝肿胀，压痛，踝关节活动受限，足背动脉搏动好。", (("diclofenac_emulgel",),), (("diclofenac_emulgel",),),
        imaging=("ankle", 0.3), dept="外科", unit="小时", span=(2, 24), advice="抬高患肢，48小时内冷敷，之后热敷，减少行走。"),
    _Dx("T63.4", (5, 80), 0.7, "summer", 0.0, "蜂蜇伤后局部红肿{n}小时", "{n}小时前在田间劳作时被蜂蜇伤右前臂，局部红肿疼痛，无胸闷、气促。",
        "右前臂见一蜇痕，周围红肿约3cm×3cm，无全身皮疹。", (("loratadine_10mg_tab", "calamine_lotion"),),
        (("calamine_lotion",),), unit="小时", span=(1, 6), advice="局部冷敷，如出现胸闷、气促、全身皮疹立即就诊。"),
    _Dx("W54", (3, 80), 0.6, "farm", 0.0, "被狗咬伤{n}小时", "{n}小时前被邻居家犬咬伤左小腿，局部出血，犬只免疫情况不详。",
        "左小腿见2处齿痕，少量渗血，周围无明显红肿。", (("povidone_iodine_solution",),),
        (("povidone_iodine_solution",),), dept="外科", unit="小时", span=(1, 6),
        advice="伤口已冲洗消毒，按时完成狂犬病疫苗全程接种，观察犬只10天。"),
    _Dx("K04.0", (12, 80), 1, "flat", 0.0, "牙痛{n}天", "{n}天来左下后牙自发性疼痛，夜间加重，冷热刺激痛。",
        "左下第一磨牙深龋，叩痛（+）。", (("metronidazole_200mg_tab", "ibuprofen_sr_300mg_cap"),),
        dept="口腔科", span=(1, 5), advice="建议口腔科进一步开髓治疗，保持口腔卫生。"),
    _Dx("G47.0", (40, 99), 1, "flat", 0.0, "入睡困难{n}月", "{n}月来入睡困难，易醒，醒后难以再睡，白天乏力。",
        "神志清，对答切题，神经系统查体无异常。", (("estazolam_1mg_tab",),), unit="月", span=(1, 12),
        advice="规律作息，睡前避免饮茶及看手机，短期服药，不可自行加量。"),
    _Dx("B02.9", (40, 99), 1, "flat", 0.0, "右侧胸背部疼痛伴水疱{n}天", "{n}天前右侧胸背部烧灼样疼痛，继之出现簇状水疱。",
        "右侧胸背部沿肋间神经分布簇集性水疱，基底潮红，未过中线。",
        (("acyclovir_200mg_tab", "mecobalamin_0_5mg_tab"),), span=(1, 5)),
    _Dx("D50.9", (15, 50), 0.8, "flat", 0.0, "头晕、乏力{n}月", "{n}月来头晕、乏力，活动后心慌，月经量偏多。",
        "面色及睑结膜苍白，心率稍快，律齐。", (("ferrous_succinate_100mg_tab", "vitamin_c_100mg_tab"),),
        sex="2", lab=("anemia", 1.0), unit="月", span=(1, 6), advice="多进食红肉、动物肝脏，1月后复查血常规。"),
    _Dx("R51", (15, 70), 1, "flat", 0.0, "头痛{n}天", "{n}天前劳累后出现双颞部胀痛，无恶心呕吐，无肢体麻木。",
        "神志清，颈软，神经系统查体未见异常。", (("ibuprofen_sr_300mg_cap",),), span=(1, 4)),
    _Dx("T67.0", (15, 80), 0.5, "heat", 0.6, "头晕、乏力、大汗{n}小时", "{n}小时前在高温下田间劳作后出现头晕、乏力、大汗、口渴，{fever}",
        "面色潮红，皮肤湿冷，神志清。", (("huoxiang_zhengqi_liquid", "ors_iii_powder"),), unit="小时", span=(1, 4),
        advice="避免高温时段劳作，多饮淡盐水，出现意识改变立即就诊。"),
)
_AGE_BANDS = (0, 3, 7, 12, 18, 45, 65, 200)  # outpatient tables are built per band, sex and month
_FEVER_DRUGS = frozenset({"paracetamol_500mg_tab", "paracetamol_oral_susp", "ibuprofen_oral_susp"})
_BETA_LACTAMS = frozenset({
    "amoxicillin_250mg_cap", "amoxicillin_125mg_granule", "amoxicillin_clavulanate_375mg_tab",
    "penicillin_g_800k_inj", "benzathine_penicillin_1_2m_inj", "cefradine_250mg_cap", "cefalexin_250mg_cap",
    "cefuroxime_axetil_250mg_tab", "cefuroxime_750mg_inj", "ceftriaxone_1g_inj",
})
_BETA_LACTAM_SWAP = {"ceftriaxone_1g_inj": "levofloxacin_500mg_inj", "amoxicillin_125mg_granule": "azithromycin_100mg_granule"}

# drug: (dose in the drug's own dose unit, route, frequency, days, units dispensed per dose;
#        0 = the pack is used up as a whole: a bottle, a tube, a bag of infusion)
_RX: dict[str, tuple[str, str, str, int, float]] = {
    "paracetamol_500mg_tab": ("0.5", "po", "prn", 3, 1),
    "ibuprofen_sr_300mg_cap": ("0.3", "po", "bid", 3, 1),
    "ganmao_qingre_granule": ("1", "po", "bid", 3, 1),
    "lianhua_qingwen_cap": ("4", "po", "tid", 3, 4),
    "banlangen_granule": ("1", "po", "tid", 3, 1),
    "yinqiao_jiedu_tab": ("4", "po", "bid", 3, 4),
    "niuhuang_jiedu_tab": ("3", "po", "bid", 3, 3),
    "pudilan_xiaoyan_tab": ("4", "po", "tid", 5, 4),
    "compound_licorice_tab": ("3", "po", "tid", 5, 3),
    "chlorphenamine_4mg_tab": ("4", "po", "tid", 3, 1),
    "vitamin_c_100mg_tab": ("0.1", "po", "tid", 5, 1),
    "ambroxol_30mg_tab": ("30", "po", "tid", 5, 1),
    "jizhi_syrup": ("20", "po", "tid", 5, 0),
    "qiangli_pipa_lu": ("15", "po", "tid", 5, 0),
    "amoxicillin_250mg_cap": ("0.5", "po", "tid", 5, 2),
    "amoxicillin_clavulanate_375mg_tab": ("1", "po", "tid", 5, 1),
    "cefradine_250mg_cap": ("0.5", "po", "qid", 3, 2),
    "cefuroxime_axetil_250mg_tab": ("0.25", "po", "bid", 5, 1),
    "azithromycin_250mg_tab": ("0.5", "po", "qd", 3, 2),
    "levofloxacin_500mg_tab": ("0.5", "po", "qd", 5, 1),
    "ceftriaxone_1g_inj": ("2", "ivgtt", "qd", 3, 2),
    "nacl_0_9pct_100ml": ("100", "ivgtt", "qd", 3, 1),
    "levofloxacin_500mg_inj": ("0.5", "ivgtt", "qd", 3, 1),
    "oseltamivir_75mg_cap": ("75", "po", "bid", 5, 1),
    "norfloxacin_100mg_cap": ("0.2", "po", "bid", 3, 2),
    "metronidazole_200mg_tab": ("0.4", "po", "tid", 5, 2),
    "nitrofurantoin_50mg_tab": ("50", "po", "qid", 5, 1),
    "clotrimazole_500mg_vag_tab": ("1", "pv", "qn", 1, 1),
    "acyclovir_200mg_tab": ("0.8", "po", "qid", 7, 4),
    "montmorillonite_3g_powder": ("1", "po", "tid", 3, 1),
    "ors_iii_powder": ("1", "po", "prn", 3, 1),
    "bifidobacterium_triple_cap": ("2", "po", "bid", 5, 2),
    "omeprazole_20mg_cap": ("20", "po", "qd", 14, 1),
    "hydrotalcite_500mg_tab": ("1", "po", "tid", 7, 2),
    "domperidone_10mg_tab": ("10", "po", "tid", 7, 1),
    "famotidine_20mg_tab": ("20", "po", "bid", 7, 1),
    "xiangsha_yangwei_pill": ("8", "po", "tid", 7, 0),
    "lactulose_oral_solution": ("15", "po", "qd", 7, 0),
    "glycerol_enema_20ml": ("20", "pr", "st", 1, 1),
    "huoxiang_zhengqi_liquid": ("10", "po", "bid", 2, 1),
    "diclofenac_sr_75mg_tab": ("75", "po", "qd", 7, 1),
    "meloxicam_7_5mg_tab": ("7.5", "po", "qd", 7, 1),
    "diclofenac_emulgel": ("1", "top", "tid", 7, 0),
    "shexiang_zhuanggu_plaster": ("1", "top", "qd", 7, 1),
    "calcium_carbonate_d3_tab": ("1", "po", "qd", 30, 1),
    "colchicine_0_5mg_tab": ("0.5", "po", "bid", 3, 1),
    "loratadine_10mg_tab": ("10", "po", "qd", 7, 1),
    "cetirizine_10mg_tab": ("10", "po", "qd", 7, 1),
    "calamine_lotion": ("1", "top", "tid", 7, 0),
    "hydrocortisone_butyrate_cream": ("1", "top", "bid", 7, 0),
    "compound_dexamethasone_cream": ("1", "top", "bid", 7, 0),
    "terbinafine_cream": ("1", "top", "bid", 14, 0),
    "povidone_iodine_solution": ("1", "top", "qd", 3, 0),
    "tetanus_antitoxin_1500iu_inj": ("1500", "im", "st", 1, 1),
    "levofloxacin_eye_drops": ("1", "oph", "qid", 7, 0),
    "chloramphenicol_eye_drops": ("1", "oph", "qid", 5, 0),
    "ofloxacin_ear_drops": ("6", "ot", "bid", 7, 0),
    "betahistine_6mg_tab": ("12", "po", "tid", 7, 2),
    "flunarizine_5mg_cap": ("10", "po", "qn", 7, 2),
    "isosorbide_mononitrate_20mg_tab": ("20", "po", "bid", 30, 1),
    "aspirin_ec_100mg_tab": ("100", "po", "qd", 30, 1),
    "atorvastatin_20mg_tab": ("20", "po", "qn", 30, 1),
    "compound_danshen_dripping_pill": ("10", "po", "tid", 30, 0),
    "estazolam_1mg_tab": ("1", "po", "qn", 7, 1),
    "mecobalamin_0_5mg_tab": ("0.5", "po", "tid", 14, 1),
    "ferrous_succinate_100mg_tab": ("0.1", "po", "tid", 30, 1),
    "tamsulosin_0_2mg_cap": ("0.2", "po", "qn", 30, 1),
    "finasteride_5mg_tab": ("5", "po", "qd", 30, 1),
    "salbutamol_aerosol_100ug": ("2", "inh", "prn", 30, 0),
    "budesonide_formoterol_160_inh": ("1", "inh", "bid", 30, 0),
    "aminophylline_100mg_tab": ("0.1", "po", "tid", 7, 1),
    "xiaochaihu_granule": ("1", "po", "tid", 3, 1),
    # children's preparations; the dose is worked out from the child's weight
    "paracetamol_oral_susp": ("5", "po", "prn", 3, 0),
    "ibuprofen_oral_susp": ("5", "po", "prn", 3, 0),
    "amoxicillin_125mg_granule": ("0.125", "po", "tid", 5, 1),
    "azithromycin_100mg_granule": ("0.1", "po", "qd", 3, 1),
    "ambroxol_oral_solution": ("5", "po", "bid", 5, 0),
    "shuanghuanglian_oral_liquid": ("20", "po", "tid", 3, 2),
}
# Chronic regimens: drug -> (dose as the follow-up form writes it, frequency, dose, units per dose).
_CHRONIC: dict[str, tuple[str, str, str, float]] = {
    "amlodipine_5mg_tab": ("5mg", "qd", "5", 1),
    "nifedipine_sr_20mg_tab": ("20mg", "bid", "20", 1),
    "felodipine_er_5mg_tab": ("5mg", "qd", "5", 1),
    "losartan_50mg_tab": ("50mg", "qd", "50", 1),
    "valsartan_80mg_cap": ("80mg", "qd", "80", 1),
    "irbesartan_150mg_tab": ("150mg", "qd", "150", 1),
    "telmisartan_40mg_tab": ("40mg", "qd", "40", 1),
    "enalapril_10mg_tab": ("10mg", "bid", "10", 1),
    "captopril_25mg_tab": ("25mg", "tid", "25", 1),
    "metoprolol_25mg_tab": ("25mg", "bid", "25", 1),
    "indapamide_sr_1_5mg_tab": ("1.5mg", "qd", "1.5", 1),
    "hydrochlorothiazide_25mg_tab": ("12.5mg", "qd", "12.5", 0.5),
    "compound_reserpine_tab": ("1片", "tid", "1", 1),
    "metformin_500mg_tab": ("0.5g", "tid", "0.5", 1),
    "metformin_er_500mg_tab": ("1.0g", "qd", "1", 2),
    "gliclazide_mr_30mg_tab": ("60mg", "qd", "60", 2),
    "glimepiride_2mg_tab": ("2mg", "qd", "2", 1),
    "glipizide_5mg_tab": ("5mg", "tid", "5", 1),
    "acarbose_50mg_tab": ("50mg", "tid", "50", 1),
    "aspirin_ec_100mg_tab": ("100mg", "qd", "100", 1),
    "atorvastatin_20mg_tab": ("20mg", "qn", "20", 1),
    "risperidone_1mg_tab": ("2mg", "bid", "2", 2),
    "olanzapine_5mg_tab": ("10mg", "qn", "10", 2),
    "clozapine_25mg_tab": ("50mg", "bid", "50", 2),
    "aripiprazole_5mg_tab": ("10mg", "qd", "10", 2),
    "sodium_valproate_200mg_tab": ("0.4g", "bid", "0.4", 2),
    "lithium_carbonate_250mg_tab": ("0.25g", "bid", "0.25", 1),
    "trihexyphenidyl_2mg_tab": ("2mg", "bid", "2", 1),
}
_HTN_REGIMENS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (16, ("amlodipine_5mg_tab",)), (8, ("nifedipine_sr_20mg_tab",)), (5, ("felodipine_er_5mg_tab",)),
    (6, ("losartan_50mg_tab",)), (5, ("valsartan_80mg_cap",)), (5, ("irbesartan_150mg_tab",)),
    (3, ("telmisartan_40mg_tab",)), (4, ("enalapril_10mg_tab",)), (3, ("captopril_25mg_tab",)),
    (7, ("compound_reserpine_tab",)), (3, ("indapamide_sr_1_5mg_tab",)),
    (8, ("amlodipine_5mg_tab", "valsartan_80mg_cap")), (6, ("amlodipine_5mg_tab", "losartan_50mg_tab")),
    (3, ("nifedipine_sr_20mg_tab", "metoprolol_25mg_tab")), (3, ("irbesartan_150mg_tab", "hydrochlorothiazide_25mg_tab")),
)
_DM_REGIMENS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (30, ("metformin_500mg_tab",)), (8, ("metformin_er_500mg_tab",)), (10, ("metformin_500mg_tab", "gliclazide_mr_30mg_tab")),
    (7, ("metformin_500mg_tab", "glimepiride_2mg_tab")), (8, ("metformin_500mg_tab", "acarbose_50mg_tab")),
    (5, ("glipizide_5mg_tab",)), (5, ("acarbose_50mg_tab",)),
)
_INSULINS = (("insulin_premix_30r_inj", "预混人胰岛素30R", "早{a}U 晚{b}U"), ("insulin_aspart_30_inj", "门冬胰岛素30", "早{a}U 晚{b}U"),
             ("insulin_glargine_300u_inj", "甘精胰岛素", "睡前{a}U"))
_PSYCH_REGIMENS: dict[str, tuple[tuple[str, ...], ...]] = {
    "schizophrenia": (("risperidone_1mg_tab",), ("olanzapine_5mg_tab",), ("clozapine_25mg_tab",), ("aripiprazole_5mg_tab",),
                      ("risperidone_1mg_tab", "trihexyphenidyl_2mg_tab")),
    "bipolar": (("sodium_valproate_200mg_tab",), ("lithium_carbonate_250mg_tab", "olanzapine_5mg_tab")),
    "other": (("risperidone_1mg_tab",), ("olanzapine_5mg_tab",)),
}
_SMD_DIAGNOSES = (("F20.0", "schizophrenia", 3), ("F20.9", "schizophrenia", 8), ("F20.3", "schizophrenia", 2),
                  ("F31.9", "bipolar", 2), ("F25.9", "other", 1), ("F22.0", "other", 1), ("F06.2", "other", 0.5),
                  ("F72.1", "other", 0.5))

# Adult oral / paediatric preparations replace adult ones for children under 12.
_CHILD_SWAP = {
    "paracetamol_500mg_tab": "paracetamol_oral_susp", "amoxicillin_250mg_cap": "amoxicillin_125mg_granule",
    "azithromycin_250mg_tab": "azithromycin_100mg_granule", "ambroxol_30mg_tab": "ambroxol_oral_solution",
}

_ALLERGENS: tuple[tuple[float, str, str, str | None, str, str], ...] = (
    # weight, substance, category, drug, reaction, severity
    (34, "青霉素", "drug", "penicillin_g_800k_inj", "皮试阳性，全身皮疹、瘙痒", "moderate"),
    (8, "头孢类抗生素", "drug", "ceftriaxone_1g_inj", "输液后全身皮疹", "moderate"),
    (12, "磺胺类药物", "drug", "co_trimoxazole_tab", "服药后发热、皮疹", "moderate"),
    (3, "阿司匹林", "drug", "aspirin_ec_100mg_tab", "服药后胸闷、喘息", "severe"),
    (2, "链霉素", "drug", None, "注射后耳鸣、头晕", "moderate"),
    (14, "海鲜（虾、蟹）", "food", None, "进食后全身风团", "mild"),
    (4, "芒果", "food", None, "口周红肿、瘙痒", "mild"),
    (4, "鸡蛋", "food", None, "进食后呕吐、皮疹", "mild"),
    (7, "花粉", "environment", None, "春季打喷嚏、流清涕", "mild"),
    (5, "尘螨", "environment", None, "鼻痒、喷嚏，偶有喘息", "mild"),
    (2, "酒精（皮肤消毒）", "other", None, "接触处皮肤红肿", "mild"),
)

# National immunisation programme: (vaccine, dose number, age in days, route, site, maker).
_SCHEDULE: tuple[tuple[str, int, int, str, str, str], ...] = (
    ("HepB", 1, 0, "im", "R_deltoid", "深圳康泰生物制品股份有限公司"),
    ("BCG", 1, 0, "id", "L_deltoid", "上海生物制品研究所有限责任公司"),
    ("HepB", 2, 30, "im", "R_deltoid", "深圳康泰生物制品股份有限公司"),
    ("IPV", 1, 61, "im", "L_thigh", "中国医学科学院医学生物学研究所"),
    ("IPV", 2, 91, "im", "L_thigh", "中国医学科学院医学生物学研究所"),
    ("DTaP", 1, 91, "im", "R_thigh", "武汉生物制品研究所有限责任公司"),
    ("bOPV", 3, 122, "po", "oral", "中国医学科学院医学生物学研究所"),
    ("DTaP", 2, 122, "im", "R_thigh", "武汉生物制品研究所有限责任公司"),
    ("DTaP", 3, 152, "im", "R_thigh", "武汉生物制品研究所有限责任公司"),
    ("HepB", 3, 183, "im", "R_deltoid", "深圳康泰生物制品股份有限公司"),
    ("MPSV-A", 1, 183, "sc", "L_upper_arm_lat", "兰州生物制品研究所有限责任公司"),
    ("MMR", 1, 244, "sc", "R_upper_arm_lat", "北京生物制品研究所有限责任公司"),
    ("JE-L", 1, 244, "sc", "L_upper_arm_lat", "成都生物制品研究所有限责任公司"),
    ("MPSV-A", 2, 274, "sc", "L_upper_arm_lat", "兰州生物制品研究所有限责任公司"),
    ("DTaP", 4, 548, "im", "R_deltoid", "武汉生物制品研究所有限责任公司"),
    ("MMR", 2, 548, "sc", "R_upper_arm_lat", "北京生物制品研究所有限责任公司"),
    ("HepA-L", 1, 548, "sc", "L_upper_arm_lat", "浙江普康生物技术股份有限公司"),
    ("JE-L", 2, 730, "sc", "L_upper_arm_lat", "成都生物制品研究所有限责任公司"),
    ("MPSV-AC", 1, 1096, "sc", "L_upper_arm_lat", "兰州生物制品研究所有限责任公司"),
    ("bOPV", 4, 1461, "po", "oral", "中国医学科学院医学生物学研究所"),
    ("DT", 1, 2192, "im", "R_deltoid", "武汉生物制品研究所有限责任公司"),
    ("MPSV-AC", 2, 2192, "sc", "L_upper_arm_lat", "兰州生物制品研究所有限责任公司"),
)
_CHECK_MONTHS = (1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72)
# WHO growth medians (boys, girls) by month: weight kg, length/height cm, head circumference cm.
_GROWTH: tuple[tuple[int, float, float, float, float, float, float], ...] = (
    (0, 3.3, 3.2, 49.9, 49.1, 34.5, 33.9), (1, 4.5, 4.2, 54.7, 53.7, 37.3, 36.5),
    (3, 6.4, 5.8, 61.4, 59.8, 40.5, 39.5), (6, 7.9, 7.3, 67.6, 65.7, 43.3, 42.2),
    (8, 8.6, 7.9, 70.6, 68.7, 44.5, 43.5), (12, 9.6, 8.9, 75.7, 74.0, 46.1, 45.0),
    (18, 10.9, 10.2, 82.3, 80.7, 47.4, 46.2), (24, 12.2, 11.5, 87.1, 85.7, 48.3, 47.2),
    (30, 13.3, 12.7, 91.9, 90.7, 49.0, 47.9), (36, 14.3, 13.9, 96.1, 95.1, 49.5, 48.5),
    (48, 16.3, 16.1, 103.3, 102.7, 50.2, 49.3), (60, 18.3, 18.2, 110.0, 109.4, 50.7, 49.9),
    (72, 20.5, 20.2, 116.0, 115.1, 51.1, 50.4), (96, 25.4, 25.0, 127.3, 126.6, 51.9, 51.2),
    (144, 39.9, 41.5, 149.1, 151.2, 53.5, 53.0), (216, 65.0, 54.0, 172.0, 160.0, 56.0, 55.0),
)

# Deaths: (underlying cause, immediate cause, chain of (description, icd10, interval)).
_DEATH_CAUSES: dict[str, tuple[str, tuple[tuple[str, str | None, str], ...]]] = {
    "I63.9": ("脑疝", (("脑疝", None, "1天"), ("大面积脑梗死", "I63.9", "5天"), ("高血压病", "I10", "15年"))),
    "I61.9": ("脑出血", (("脑出血", "I61.9", "2小时"), ("高血压病", "I10", "12年"))),
    "I21.9": ("心源性休克", (("心源性休克", None, "3小时"), ("急性心肌梗死", "I21.9", "6小时"))),
    "I50.9": ("心力衰竭", (("心力衰竭", "I50.9", "2年"), ("冠状动脉粥样硬化性心脏病", "I25.1", "10年"))),
    "J44.9": ("呼吸衰竭", (("呼吸衰竭", "J96.9", "3天"), ("慢性阻塞性肺疾病", "J44.9", "20年"))),
    "C34.9": ("多器官功能衰竭", (("多器官功能衰竭", None, "5天"), ("肺癌", "C34.9", "1年"))),
    "C15.9": ("恶病质", (("恶病质", None, "1月"), ("食管癌", "C15.9", "10月"))),
    "C16.9": ("恶病质", (("恶病质", None, "1月"), ("胃癌", "C16.9", "1年"))),
    "C22.0": ("肝功能衰竭", (("肝功能衰竭", None, "7天"), ("原发性肝癌", "C22.0", "8月"))),
    "J18.9": ("重症肺炎", (("重症肺炎", "J18.9", "5天"),)),
    "N18.9": ("尿毒症", (("尿毒症", None, "1月"), ("糖尿病肾病", "E11.2", "6年"))),
    "R54": ("衰老", (("衰老", "R54", ""),)),
    "V89.2": ("重型颅脑损伤", (("重型颅脑损伤", "S06.0", "1小时"), ("交通事故", "V89.2", "1小时"))),
    "T75.1": ("溺水", (("溺水", "T75.1", "数分钟"),)),
    "W19": ("股骨颈骨折后坠积性肺炎", (("坠积性肺炎", "J18.9", "10天"), ("股骨颈骨折", "S72.0", "2月"), ("跌倒", "W19", "2月"))),
}

# Referrals out to the county hospital, and what comes back: (icd10, reason, urgency, minimum age, result, treatment).
_REFERRALS: tuple[tuple[str, str, str, int, str, str], ...] = (
    ("I20.0", "反复胸闷胸痛，心电图ST段压低，疑不稳定型心绞痛", "urgent", 50,
     "冠脉造影示前降支近段狭窄约75%，植入支架1枚，术后恢复好。", "阿司匹林联合氯吡格雷双联抗血小板12月，阿托伐他汀，美托洛尔。"),
    ("S72.0", "跌倒后右髋疼痛、不能站立，疑股骨颈骨折", "emergency", 65,
     "右股骨颈骨折，行人工股骨头置换术，术后恢复可。", "术后康复锻炼，防跌倒，补钙。"),
    ("K81.0", "右上腹痛伴发热2天，B超示胆囊结石伴胆囊炎", "urgent", 30,
     "急性结石性胆囊炎，行腹腔镜胆囊切除术，术后恢复好。", "低脂饮食，1月后门诊复查。"),
    ("N20.0", "反复左腰部绞痛，B超示左肾结石伴轻度积水", "routine", 25,
     "左肾结石，行体外冲击波碎石术，复查结石已排出。", "多饮水，定期复查泌尿系B超。"),
    ("H25.9", "双眼视物模糊逐渐加重2年，视力下降明显", "routine", 60,
     "右眼老年性白内障，行超声乳化白内障吸除联合人工晶体植入术，术后视力0.8。", "术后滴眼液按医嘱使用，1月后复查。"),
    ("I10", "高血压联合用药后血压仍≥180/110mmHg", "urgent", 40,
     "排除继发性高血压，调整降压方案为氨氯地平联合缬沙坦，住院期间血压控制达标。", "继续联合降压治疗，社区每月随访血压。"),
    ("E11.9", "口服降糖药规律治疗下空腹血糖仍>13mmol/L", "routine", 40,
     "2型糖尿病血糖控制差，启用预混胰岛素治疗，血糖控制平稳后出院。", "预混胰岛素早晚皮下注射，监测血糖，社区随访。"),
    ("K35.8", "转移性右下腹痛12小时，麦氏点压痛、反跳痛", "emergency", 10,
     "急性化脓性阑尾炎，行腹腔镜阑尾切除术，术后恢复好。", "伤口7天拆线，1月内避免剧烈活动。"),
    ("N63", "体检发现左乳肿块，约1.5cm×1.0cm", "routine", 30,
     "左乳肿块空芯针穿刺病理：纤维腺瘤，良性。", "定期乳腺B超复查。"),
)

# Township hospital admissions: (icd10, department, min age, max age, weight, course, orders).
_STAYS: tuple[tuple[str, str, int, int, float, str, tuple[str, ...]], ...] = (
    ("J18.9", "内科", 50, 99, 4, "入院后予头孢曲松抗感染、氨溴索化痰等治疗，体温渐降至正常，咳嗽咳痰明显减轻。",
     ("ceftriaxone_1g_inj", "ambroxol_30mg_tab")),
    ("J44.1", "内科", 50, 99, 3, "入院后予抗感染、解痉平喘、化痰及低流量吸氧治疗，气喘缓解，肺部啰音减少。",
     ("levofloxacin_500mg_inj", "aminophylline_100mg_tab", "ambroxol_30mg_tab")),
    ("I69.3", "内科", 55, 99, 2, "予改善循环、抗血小板、调脂稳定斑块及针灸、肢体康复训练，肢体肌力较入院时改善。",
     ("aspirin_ec_100mg_tab", "atorvastatin_20mg_tab")),
    ("I25.1", "内科", 55, 99, 2, "予抗血小板、调脂、扩冠等治疗，胸闷症状缓解，未再发作。",
     ("aspirin_ec_100mg_tab", "isosorbide_mononitrate_20mg_tab", "atorvastatin_20mg_tab")),
    ("K29.1", "内科", 16, 80, 2, "予禁食、抑酸护胃、补液等治疗，腹痛、呕吐缓解，已恢复进食。",
     ("omeprazole_40mg_inj", "glucose_nacl_500ml")),
    ("M51.2", "中医科", 30, 80, 2, "予针灸、推拿、中药熏蒸及腰椎牵引等综合治疗，腰腿痛明显减轻。",
     ("meloxicam_7_5mg_tab",)),
    ("J18.0", "儿科", 0, 6, 3, "入院后予阿奇霉素抗感染、雾化、化痰治疗，体温正常，咳嗽减轻，肺部啰音消失。",
     ("azithromycin_500mg_inj",)),
    ("A09", "内科", 16, 90, 1.5, "予补液、止泻、调节肠道菌群治疗，腹泻停止，电解质正常。",
     ("glucose_nacl_500ml", "montmorillonite_3g_powder")),
)
# Inpatient drug orders: drug -> (dose, route, frequency).
_INPATIENT_RX: dict[str, tuple[str, str, str]] = {
    "ceftriaxone_1g_inj": ("2", "ivgtt", "qd"), "levofloxacin_500mg_inj": ("0.5", "ivgtt", "qd"),
    "azithromycin_500mg_inj": ("0.1", "ivgtt", "qd"), "omeprazole_40mg_inj": ("40", "ivgtt", "qd"),
    "glucose_nacl_500ml": ("500", "ivgtt", "qd"), "ambroxol_30mg_tab": ("30", "po", "tid"),
    "aminophylline_100mg_tab": ("0.1", "po", "tid"), "aspirin_ec_100mg_tab": ("100", "po", "qd"),
    "atorvastatin_20mg_tab": ("20", "po", "qn"), "isosorbide_mononitrate_20mg_tab": ("20", "po", "bid"),
    "meloxicam_7_5mg_tab": ("7.5", "po", "qd"), "montmorillonite_3g_powder": ("1", "po", "tid"),
}


# --- the township -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Village:
    code: str
    name: str
    community: bool
    clan: str | None  # the surname in the village's name (王家村 -> 王)


@dataclass(frozen=True)
class _Town:
    """What is fixed about a township, computed once per code (no randomness)."""

    code: str
    name: str
    villages: tuple[_Village, ...]
    clinic: str  # the township hospital's name
    drugs: dict[str, dict[str, Any]]  # code -> price, pack size, unit, name, tcm
    surnames: tuple[str, ...]
    surname_cum: tuple[float, ...]
    dx_tables: dict[tuple[int, str, int], tuple[tuple[_Dx, ...], tuple[float, ...]]]


@cache
def _township(code: str) -> _Town:
    divisions = code_list("division")
    entry = divisions.get(code)
    if entry is None:  # pragma: no cover - _township_code checked it
        raise ValueError(f"township: {code} is not in the division list")
    villages = []
    for c in divisions.codes:
        if c.extra.get("parent") == code and len(c.code) == 12:
            clan = c.zh[0] if c.zh.endswith("家村") and len(c.zh) == 3 else None
            villages.append(_Village(c.code, c.zh, c.extra.get("kind") == "community", clan))
    if not villages:
        raise ValueError(f"township: {code} ({entry.zh}) has no villages in the division list")
    drugs = {}
    for d in code_list("drug").codes:
        m = re.match(r"(\d+)", str(d.extra.get("pack", "1")))
        drugs[d.code] = {
            "name": d.zh,
            "price": str(d.extra.get("price") or "1.00"),
            "pack": int(m.group(1)) if m else 1,
            "unit": str(d.extra.get("dose_unit", "tab")),
            "tcm": bool(d.extra.get("tcm")),
        }
    _check_tables(drugs)
    surnames = tuple(s for s, _ in _SURNAME_TABLE)
    cum = tuple(accumulate(w for _, w in _SURNAME_TABLE))
    return _Town(code, entry.zh, tuple(villages), f"{entry.zh}卫生院", drugs, surnames, cum, _dx_tables())


def _check_tables(drugs: dict[str, dict[str, Any]]) -> None:
    """Every code the tables use exists in its code list (rule 4)."""
    used = set(_RX) | set(_CHRONIC) | set(_INPATIENT_RX) | {i[0] for i in _INSULINS}
    used |= {d for dx in _DX for rx in dx.adult_rx + dx.child_rx for d in rx}
    used |= {d for _, _, _, d, _, _ in _ALLERGENS if d}
    missing = sorted(d for d in used if d not in drugs)
    prescribed = {d for dx in _DX for rx in dx.adult_rx + dx.child_rx for d in rx} | set(_CHILD_SWAP.values())
    missing += sorted(f"{d} (no regimen)" for d in prescribed if d not in _RX and d not in _CHRONIC)
    icd = code_list("icd10")
    missing += sorted(c for c in [dx.icd for dx in _DX] + list(_DEATH_CAUSES) + [r[0] for r in _REFERRALS]
                      + [s[0] for s in _STAYS] + [s[0] for s in _SMD_DIAGNOSES] if c not in icd)
    missing += sorted(v for v, *_ in _SCHEDULE if v not in code_list("vaccine"))
    for rx in list(_RX.values()):
        if rx[1] not in code_list("route") or rx[2] not in code_list("frequency"):
            missing.append(f"{rx[1]}/{rx[2]}")
    if missing:
        raise RuntimeError(f"synthetic tables use codes missing from the code lists: {', '.join(missing)}")


def _dx_tables() -> dict[tuple[int, str, int], tuple[tuple[_Dx, ...], tuple[float, ...]]]:
    """Cumulative weights of the (condition-free) outpatient diagnoses by age band, sex and month."""
    tables = {}
    for band in range(len(_AGE_BANDS) - 1):
        lo, hi = _AGE_BANDS[band], _AGE_BANDS[band + 1] - 1
        for sex in ("1", "2"):
            fits = [d for d in _DX if d.requires is None and d.ages[0] <= hi and d.ages[1] >= lo
                    and (d.sex is None or d.sex == sex) and (d.child_rx if hi < 12 else d.adult_rx or d.child_rx)]
            for month in range(12):
                cum = tuple(accumulate(d.weight * _SEASONS[d.season][month] for d in fits))
                tables[band, sex, month] = (tuple(fits), cum)
    return tables


# --- people -----------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Household:
    key: str
    village: _Village
    hid: str
    street: str
    members: list[_Person] = field(default_factory=list)
    count: int = 0

    def next_key(self) -> str:
        self.count += 1
        return f"{self.key}/R{self.count}"


@dataclass(eq=False)
class _Person:
    key: str
    hh: _Household
    sex: str
    born: int  # date ordinal
    surname: str
    given: str
    rel: str = "02"
    name_latin: str | None = None
    ethnicity: str = "01"
    mother: _Person | None = None
    father: _Person | None = None
    spouse: _Person | None = None
    link_spouse: bool = False  # this (later) spouse carries the spouse link
    away: bool = False
    married: bool = False
    widowed: bool = False
    phone: str | None = None
    id_number: str | None = None
    newborn: bool = False
    children: list[_Person] = field(default_factory=list)
    # health
    height: float = 0.0
    weight: float = 0.0
    z: float = 0.0  # growth percentile of a child
    htn: int | None = None  # year of diagnosis
    dm: int | None = None
    copd: bool = False
    chd: bool = False
    smd: tuple[str, str, int] | None = None  # (icd10, kind, year)
    tb_start: int | None = None
    smoker: str = "never"
    cigarettes: int = 0
    drinker: str = "never"
    alcohol: float = 0.0
    allergy: tuple[float, str, str, str | None, str, str] | None = None
    death: int | None = None
    death_cause: str | None = None
    control: float = 0.7  # chance a chronic follow-up finds the condition controlled
    regimen: tuple[str, ...] = ()
    dm_regimen: tuple[str, ...] = ()
    insulin: tuple[str, str, str] | None = None
    psych_regimen: tuple[str, ...] = ()
    disabilities: tuple[str, ...] = ()
    birth_info: dict[str, Any] | None = None  # a child born during the period: its birth record
    pregnancy_key: str | None = None  # ... and the key of its mother's pregnancy registration

    @property
    def name(self) -> str:
        return self.surname + self.given

    def age(self, day: int) -> float:
        return (day - self.born) / _YEAR


_HOUSEHOLD_KINDS: tuple[tuple[float, str], ...] = (
    (11, "elderly_single"), (17, "elderly_couple"), (28, "left_behind"), (20, "core"),
    (13, "empty_nest"), (8, "with_widow"), (4, "bachelor"), (5, "young"),
)


class _Timeline:
    """One person's items during the period, in time order when emitted."""

    def __init__(self, gen: _Generator, p: _Person) -> None:
        self.gen = gen
        self.p = p
        self.begin = max(gen.start, p.born)
        self.end = min(gen.today, p.death) if p.death is not None else gen.today
        self._items: list[tuple[int, int, SynthItem]] = []
        self._n = 0

    def add(self, day: int, type_: str, data: dict[str, Any], refs: dict[str, str] | None = None) -> str:
        self.gen.n_records += 1
        key = f"{self.p.hh.key}/C{self.gen.n_records}"
        self._n += 1
        self._items.append((day, self._n, SynthRecord(key, self.p.key, type_, data, refs or {})))
        return key

    def add_resident(self, day: int, item: SynthResident) -> None:
        self._n += 1
        self._items.append((day, self._n, item))

    def items(self) -> list[SynthItem]:
        self._items.sort(key=lambda t: (t[0], t[1]))
        out = [it for _, _, it in self._items]
        deaths = [it for it in out if isinstance(it, SynthRecord) and it.type == "death"]
        if deaths:  # the death record closes the file
            out = [it for it in out if it is not deaths[0]] + deaths[:1]
        return out


class _Generator:
    """One township over one period: builds households, then each member's years of care."""

    def __init__(self, rng: random.Random, *, today: dt.date, years: int, town: _Town) -> None:
        self.rng = rng
        self.today = today.toordinal()
        self.start = self.today - round(years * _YEAR)
        self.years = years
        self.town = town
        self.iso_cache: dict[int, str] = {}
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.n_people = 0
        self.n_records = 0
        self.n_households = 0
        self.serial = 0
        village_w = [3.0 if v.community else 2.0 for v in town.villages]
        self.village_cum = tuple(accumulate(village_w))
        # Clans: each village has one or two dominant surnames (its name's, if it has one).
        self.clans: dict[str, tuple[str, ...]] = {}
        for v in town.villages:
            clans = [v.clan] if v.clan else []
            while len(clans) < 2:
                s = town.surnames[bisect(town.surname_cum, rng.random() * town.surname_cum[24])]
                if s not in clans:
                    clans.append(s)
            self.clans[v.code] = tuple(clans)
        self.doctors = tuple(self._staff_name() for _ in range(6))
        self.public_health = tuple(self._staff_name() for _ in range(3))
        self.nurses = tuple(self._staff_name(sex="2") for _ in range(3))
        self.lab_staff = tuple(self._staff_name() for _ in range(2))
        self.village_doctors = {v.code: self._staff_name() for v in town.villages}
        self.county_doctors = tuple(self._staff_name() for _ in range(6))

    # -- small helpers ---------------------------------------------------------------------

    def iso(self, day: int) -> str:
        s = self.iso_cache.get(day)
        if s is None:
            s = self.iso_cache[day] = dt.date.fromordinal(day).isoformat()
        return s

    def at(self, day: int, minutes: int) -> str:
        """A date-time on ``day``, ``minutes`` after midnight (kept within the day)."""
        minutes = max(0, min(minutes, 23 * 60 + 59))
        return f"{self.iso(day)}T{minutes // 60:02d}:{minutes % 60:02d}:00"

    def clinic_time(self) -> int:
        rng = self.rng
        if rng.random() < 0.72:
            return rng.randrange(8 * 60, 11 * 60 + 30)
        return rng.randrange(14 * 60, 17 * 60)

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def weighted(self, table: Sequence[tuple[float, Any]]) -> Any:
        total = sum(w for w, _ in table)
        x = self.rng.random() * total
        for w, item in table:
            x -= w
            if x < 0:
                return item
        return table[-1][1]

    def month(self, day: int) -> int:
        return dt.date.fromordinal(day).month - 1

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def _staff_name(self, sex: str | None = None) -> str:
        rng = self.rng
        sex = sex or ("1" if rng.random() < 0.55 else "2")
        surname = self.town.surnames[bisect(self.town.surname_cum[:60], rng.random() * self.town.surname_cum[59])]
        return surname + self.given_name(sex, 1975 + rng.randrange(25))

    # -- names and numbers -----------------------------------------------------------------------

    def surname(self, village: _Village | None = None) -> str:
        rng = self.rng
        if village is not None and rng.random() < 0.22:
            return self.pick(self.clans[village.code])
        cum = self.town.surname_cum
        return self.town.surnames[bisect(cum, rng.random() * cum[-1])]

    def given_name(self, sex: str, year: int, generation: str | None = None) -> str:
        rng = self.rng
        first, second, single = next(e for end, e in _ERAS if year < end)[sex]
        if generation is None and rng.random() < single:
            return self.pick(second)
        if sex == "2" and year >= 1995 and rng.random() < 0.06:
            c = self.pick(second)
            return c + c  # 婷婷, 欣欣
        return (generation or self.pick(first)) + self.pick(second)

    def id_number(self, born: int, sex: str) -> str:
        birth = dt.date.fromordinal(born).strftime("%Y%m%d")
        rng = self.rng
        while True:
            seq = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
            if seq == 0:
                continue
            body = f"{COUNTY}{birth}{seq:03d}"
            if body not in self.used_ids:
                self.used_ids.add(body)
                return body + check_digit(body)

    def phone(self) -> str:
        rng = self.rng
        while True:
            prefix = self.pick(("139", "135", "138", "158", "159", "152", "182", "187", "181", "177", "199", "180", "133", "189"))
            number = f"{prefix}{rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    # -- households ------------------------------------------------------------------------------

    def run(self, residents: int) -> Iterator[SynthItem]:
        while self.n_people < residents:
            hh = self.household(residents - self.n_people)
            yield from self.emit_household(hh)

    def household(self, room: int) -> _Household:
        rng = self.rng
        self.n_households += 1
        village = self.town.villages[bisect(self.village_cum, rng.random() * self.village_cum[-1])]
        n = self.n_households
        if village.community:
            street = f"{self.pick(_STREETS)}{rng.randrange(1, 300)}号"
            if rng.random() < 0.5:
                street += f"{rng.randrange(1, 6)}单元{rng.randrange(1, 8)}楼{rng.randrange(1, 5)}号"
        else:
            street = f"{rng.randrange(1, 13)}组{rng.randrange(1, 80)}号"
        hh = _Household(f"H{n}", village, f"{village.code}{n:06d}", street)
        kind = self.weighted(_HOUSEHOLD_KINDS)
        getattr(self, f"_hh_{kind}")(hh)
        del hh.members[min(room, 6):]
        for p in hh.members:
            if p.spouse is not None and p.spouse not in hh.members:
                p.spouse, p.link_spouse = None, False
            if p.mother is not None and p.mother not in hh.members:
                p.mother = None
            if p.father is not None and p.father not in hh.members:
                p.father = None
        self.n_people += len(hh.members)
        return hh

    def person(self, hh: _Household, sex: str, born: int, surname: str | None = None, *, rel: str,
               generation: str | None = None) -> _Person:
        year = dt.date.fromordinal(born).year
        surname = surname or self.surname(hh.village if sex == "1" else None)
        p = _Person(hh.next_key(), hh, sex, born, surname,
                    self.given_name(sex, year, generation), rel=rel)
        hh.members.append(p)
        return p

    def born_at_age(self, age: float) -> int:
        return self.today - int(age * _YEAR) - self.rng.randrange(365)

    def couple(self, hh: _Household, age: float, *, rel_h: str, rel_w: str, surname: str | None = None) -> tuple[_Person, _Person]:
        rng = self.rng
        h = self.person(hh, "1", self.born_at_age(age), surname, rel=rel_h)
        gap = max(-3.0, min(10.0, rng.gauss(2.5, 2.2)))
        w = self.person(hh, "2", self.born_at_age(max(age - gap, 19.0)), None, rel=rel_w)
        self.marry(h, w)
        return h, w

    def marry(self, h: _Person, w: _Person) -> None:
        h.spouse, w.spouse = w, h
        h.married = w.married = True
        w.link_spouse = True  # the wife is yielded after her husband

    def children(self, hh: _Household, mother: _Person, father: _Person | None, *, count: int,
                 rels: tuple[str, str], keep: Callable[[_Person], bool] | None = None) -> list[_Person]:
        """Children born to ``mother`` at plausible ages, only those born before the period starts."""
        rng = self.rng
        out: list[_Person] = []
        day = mother.born + int(rng.uniform(20.5, 28) * _YEAR)
        year = dt.date.fromordinal(mother.born).year + 25
        generation = self.pick(next(e for end, e in _ERAS if year < end)["1"][0]) if year < 1985 and rng.random() < 0.6 else None
        surname = father.surname if father else mother.surname
        for _ in range(count):
            if day > self.start or day > self.today:
                break
            sex = "1" if rng.random() < 0.53 else "2"  # rural sex ratio at birth
            child = _Person("", hh, sex, day, surname, self.given_name(sex, dt.date.fromordinal(day).year,
                                                                           generation if sex == "1" else None),
                            rel=rels[0] if sex == "1" else rels[1], mother=mother, father=father)
            mother.children.append(child)
            if father:
                father.children.append(child)
            if keep is None or keep(child):
                child.key = hh.next_key()
                hh.members.append(child)
                out.append(child)
            day += int(rng.uniform(2, 7) * _YEAR)
        return out

    def _hh_elderly_single(self, hh: _Household) -> None:
        rng = self.rng
        sex = "2" if rng.random() < 0.68 else "1"
        p = self.person(hh, sex, self.born_at_age(rng.triangular(66, 99, 79)), rel="02")
        p.widowed = rng.random() < 0.9

    def _hh_elderly_couple(self, hh: _Household) -> None:
        self.couple(hh, self.rng.triangular(60, 93, 71), rel_h="02", rel_w="10")

    def _hh_left_behind(self, hh: _Household) -> None:
        """Grandparents at home with grandchildren; the parents work away much of the year."""
        rng = self.rng
        gf, gm = self.couple(hh, rng.triangular(54, 86, 67), rel_h="02", rel_w="10")
        alone = rng.random()
        son_age = gm.age(self.today) - rng.uniform(21, 30)
        if son_age < 21:
            son_age = 21 + rng.random() * 3
        son = self.person(hh, "1", self.born_at_age(son_age), gf.surname, rel="20")
        son.mother, son.father = gm, gf
        gm.children.append(son)
        gf.children.append(son)
        dil = self.person(hh, "2", self.born_at_age(max(19.5, son_age - rng.uniform(-1, 4))), rel="38")
        self.marry(son, dil)
        son.away = rng.random() < 0.7
        dil.away = son.away and rng.random() < 0.65
        n = self.weighted(((0.3, 1), (0.58, 2), (0.12, 3)))
        self.children(hh, dil, son, count=n, rels=("41", "42"))
        if alone < 0.12:  # a grandparent has died: the widow(er) stays head
            gone = gm if rng.random() < 0.4 else gf
            hh.members.remove(gone)
            other = gf if gone is gm else gm
            other.spouse, other.married, other.widowed, other.link_spouse = None, False, True, False
            other.rel = "02"
            son.mother = son.mother if son.mother is not gone else None
            son.father = son.father if son.father is not gone else None
        elif rng.random() < 0.3:  # the son is the registered head
            son.rel, dil.rel = "02", "10"
            gf.rel, gm.rel = "51", "52"
            for c in hh.members[4:]:
                c.rel = "20" if c.sex == "1" else "30"

    def _hh_core(self, hh: _Household) -> None:
        rng = self.rng
        h, w = self.couple(hh, rng.triangular(32, 64, 54), rel_h="02", rel_w="10")
        if rng.random() < 0.25:
            h.away = True
            w.away = rng.random() < 0.5

        def stays(c: _Person) -> bool:
            age = c.age(self.today)
            return not (c.sex == "2" and age > 23 and rng.random() < 0.8) and not (age > 30 and rng.random() < 0.7)

        kids = self.children(hh, w, h, count=self.weighted(((0.35, 1), (0.5, 2), (0.15, 3))), rels=("20", "30"), keep=stays)
        for c in kids:
            if c.age(self.today) >= 18 and rng.random() < 0.6:
                c.away = True

    def _hh_empty_nest(self, hh: _Household) -> None:
        h, w = self.couple(hh, self.rng.uniform(47, 68), rel_h="02", rel_w="10")
        h.away = self.rng.random() < 0.2

    def _hh_with_widow(self, hh: _Household) -> None:
        rng = self.rng
        age = rng.uniform(40, 62)
        mother = self.person(hh, "2", self.born_at_age(min(98, age + rng.uniform(21, 32))), rel="52")
        mother.widowed = True
        h = self.person(hh, "1", self.born_at_age(age), rel="02")
        h.mother = mother
        mother.children.append(h)
        w = self.person(hh, "2", self.born_at_age(max(19.5, age - rng.gauss(2.5, 2))), rel="10")
        self.marry(h, w)
        self.children(hh, w, h, count=self.weighted(((0.5, 1), (0.5, 2))), rels=("20", "30"),
                      keep=lambda c: c.age(self.today) < 26 or rng.random() < 0.3)

    def _hh_bachelor(self, hh: _Household) -> None:
        rng = self.rng
        age = rng.uniform(32, 66)
        if rng.random() < 0.5 and age < 66:
            mother = self.person(hh, "2", self.born_at_age(min(97, age + rng.uniform(21, 30))), rel="02")
            mother.widowed = True
            son = self.person(hh, "1", self.born_at_age(age), rel="20")
            son.mother = mother
            mother.children.append(son)
        else:
            self.person(hh, "1", self.born_at_age(age), rel="02")

    def _hh_young(self, hh: _Household) -> None:
        rng = self.rng
        h, w = self.couple(hh, rng.uniform(23, 33), rel_h="02", rel_w="10")
        h.away = rng.random() < 0.5
        w.away = h.away and rng.random() < 0.5
        self.children(hh, w, h, count=self.weighted(((0.6, 1), (0.4, 2))), rels=("20", "30"))

    # -- people's details ---------------------------------------------------------------------------

    def settle(self, hh: _Household) -> None:
        """Ethnicity, phones, health profile and fate of each member."""
        rng = self.rng
        members = hh.members
        minority = rng.random()
        if minority < 0.004:  # a Yi wife married in from Liangshan
            wives = [p for p in members if p.sex == "2" and p.spouse is not None and p.rel in ("10", "38")]
            if wives:
                w = wives[-1]
                (sn, sl), (gn, gl) = self.pick(_YI_SURNAMES), self.pick(_YI_GIVEN["2"])
                w.surname, w.given, w.name_latin, w.ethnicity = sn, gn, f"{sl} {gl}", "07"
                for c in w.children:
                    if rng.random() < 0.5:
                        c.ethnicity = "07"
        elif minority < 0.006:  # a Hui family
            for p in members:
                p.ethnicity = "03"
                if p.sex == "1" or p.mother is not None:
                    p.surname = "马"
        elif minority < 0.008:  # a Tujia family from the Chongqing side
            surname = self.pick(_TUJIA_SURNAMES)
            for p in members:
                p.ethnicity = "15"
                if p.sex == "1" or p.mother is not None:
                    p.surname = surname
        elif minority < 0.009:  # a Tibetan wife
            wives = [p for p in members if p.sex == "2" and p.spouse is not None]
            if wives:
                gn, gl = self.pick(_TIBETAN["2"])
                wives[-1].surname, wives[-1].given, wives[-1].name_latin, wives[-1].ethnicity = "", gn, gl, "04"
        for p in members:
            if p.surname == "朴" and rng.random() < 0.7:
                p.ethnicity = "10"
        for p in members:
            self.profile(p)
        self.phones(hh)

    def phones(self, hh: _Household) -> None:
        rng = self.rng
        for p in hh.members:
            age = p.age(self.today)
            own = 1.0 if p.away else 0.95 if 18 <= age <= 60 else 0.7 if 60 < age <= 75 else 0.35 if age > 75 else 0.5 if age >= 14 else 0.0
            if rng.random() < own:
                p.phone = self.phone()
        home = [p for p in hh.members if p.phone and not p.away]
        anyone = [p for p in hh.members if p.phone]
        for p in hh.members:
            if p.phone:
                continue
            guardian = p.mother if p.mother is not None and p.mother.phone and not p.mother.away else None
            src = guardian or (home[0] if home else anyone[0] if anyone else None)
            if src is not None:
                p.phone = src.phone

    def profile(self, p: _Person) -> None:
        rng = self.rng
        age = p.age(self.today)
        male = p.sex == "1"
        if age >= 18:
            p.height = rng.gauss(166 if male else 155, 5.5) - max(0.0, age - 60) * 0.12
            bmi = max(17.0, min(35.0, rng.gauss(23.2, 3.0)))
        else:
            p.z = max(-2.6, min(2.6, rng.gauss(0.0, 0.9)))
            p.height = self.growth(p.sex, age * 12)[1] * (1 + 0.035 * p.z)
            bmi = 0.0
        if male and age >= 15:
            p.smoker = self.weighted(((0.52, "current"), (0.12, "former"), (0.36, "never")))
            p.cigarettes = rng.choice((5, 10, 10, 15, 20, 20, 30)) if p.smoker == "current" else 0
            p.drinker = self.weighted(((0.35, "occasional"), (0.15, "frequent"), (0.12, "daily"), (0.38, "never")))
            p.alcohol = rng.choice((1.0, 2.0, 2.0, 3.0, 4.0)) if p.drinker in ("frequent", "daily") else 0.0
        elif age >= 15 and rng.random() < 0.03:
            p.smoker, p.cigarettes = "current", 5
        if age >= 18 and not p.away or age >= 35:
            year = dt.date.fromordinal(self.today).year
            risk_htn = 0.0 if age < 30 else 0.05 if age < 45 else 0.17 if age < 55 else 0.28 if age < 65 else 0.38 if age < 75 else 0.46
            if bmi > 27:
                risk_htn *= 1.4
            if rng.random() < risk_htn:
                p.htn = year - int(rng.uniform(0, max(1.0, age - 33)))
                bmi += 1.2
            risk_dm = 0.0 if age < 30 else 0.025 if age < 45 else 0.06 if age < 55 else 0.085 if age < 65 else 0.1
            if p.htn is not None:
                risk_dm *= 1.5
            if rng.random() < risk_dm:
                p.dm = year - int(rng.uniform(0, max(1.0, age - 33) * 0.7))
                bmi += 1.0
            if age >= 55 and p.smoker != "never" and rng.random() < 0.22 or age >= 65 and rng.random() < 0.03:
                p.copd = True
            if age >= 60 and rng.random() < (0.06 if age < 70 else 0.11):
                p.chd = True
            if 18 <= age < 80 and rng.random() < 0.006:
                icd, kind, _ = self.weighted(tuple((w, (c, k, w)) for c, k, w in _SMD_DIAGNOSES))
                p.smd = (icd, kind, year - int(rng.uniform(1, max(2.0, age - 17))))
            if rng.random() < (0.0015 if age < 60 else 0.003) * (1.6 if male else 0.7):
                p.tb_start = rng.randrange(self.start - 150, self.today - 10)
        if age >= 18:
            p.weight = round(bmi * (p.height / 100) ** 2, 1)
            p.control = rng.uniform(0.35, 0.95)
            if p.htn is not None:
                p.regimen = self.weighted(_HTN_REGIMENS) if rng.random() < 0.93 else ()
            if p.dm is not None:
                p.dm_regimen = self.weighted(_DM_REGIMENS)
                if rng.random() < 0.1:
                    p.insulin = self.pick(_INSULINS)
            if p.smd is not None:
                p.psych_regimen = self.pick(_PSYCH_REGIMENS[p.smd[1]])
        if rng.random() < 0.05:
            allergens = [a for a in _ALLERGENS if a[1] != "鸡蛋" or age < 12]
            p.allergy = self.weighted(tuple((a[0], a) for a in allergens))
        if age >= 16 and rng.random() < (0.015 if age < 60 else 0.05):
            p.disabilities = (self.weighted(((6, "4"), (2, "1"), (2, "2"), (1, "5"), (0.5, "3"))),)
        if p.smd is not None and rng.random() < 0.6:
            p.disabilities = ("6",)
        self.fate(p)

    def fate(self, p: _Person) -> None:
        """Whether (and of what) the person dies during the period."""
        if self.years == 0:
            return
        rng = self.rng
        start = max(self.start, p.born)
        mid_age = p.age((start + self.today) // 2)
        q = (0.0003 if mid_age < 15 else 0.0008 if mid_age < 35 else 0.002 if mid_age < 50 else 0.005 if mid_age < 60
             else 0.011 if mid_age < 70 else 0.03 if mid_age < 80 else 0.085 if mid_age < 90 else 0.2)
        q *= 0.53 * (1.2 if p.htn is not None else 1.0) * (1.3 if p.dm is not None else 1.0) * (1.6 if p.copd else 1.0)
        if rng.random() >= 1 - (1 - q) ** ((self.today - start) / _YEAR):
            return
        p.death = rng.randrange(start + 1, self.today + 1)
        age = p.age(p.death)
        table: list[tuple[float, str]] = [
            (2 + 3 * (p.htn is not None), "I63.9"), (1 + 2 * (p.htn is not None), "I61.9"),
            (1.5 + (p.dm is not None) + 3 * p.chd, "I21.9"), (0.5 + 2 * p.chd * (age > 75), "I50.9"),
            (0.4 + 6 * p.copd, "J44.9"), (0.5 + 1.5 * (p.smoker != "never"), "C34.9"), (0.8, "C15.9"),
            (0.6, "C16.9"), (0.6, "C22.0"), (0.8 * (age > 80), "J18.9"), (0.8 * (p.dm is not None), "N18.9"),
            (3.0 * (age > 90), "R54"), (1.0 * (age < 60), "V89.2"), (0.5 * (age < 15) + 0.05, "T75.1"),
            (0.6 * (age > 80), "W19"),
        ]
        p.death_cause = self.weighted([(w, c) for w, c in table if w > 0])

    def growth(self, sex: str, months: float) -> tuple[float, float, float]:
        """Median (weight kg, height cm, head cm) at an age in months, interpolated."""
        g = 0 if sex == "1" else 1
        rows = _GROWTH
        for i in range(1, len(rows)):
            if months <= rows[i][0] or i == len(rows) - 1:
                a, b = rows[i - 1], rows[i]
                t = max(0.0, min(1.0, (months - a[0]) / (b[0] - a[0])))
                return (a[1 + g] + t * (b[1 + g] - a[1 + g]), a[3 + g] + t * (b[3 + g] - a[3 + g]),
                        a[5 + g] + t * (b[5 + g] - a[5 + g]))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the resident record ------------------------------------------------------------------------

    def resident(self, p: _Person) -> SynthResident:
        rng = self.rng
        hh = p.hh
        age = p.age(self.today)
        data: dict[str, Any] = {
            "name": p.name,
            "sex": p.sex,
            "birth_date": self.iso(p.born),
            "ethnicity": p.ethnicity,
            "address": {"division_code": hh.village.code, "township": self.town.name, "village": hh.village.name,
                        "street": hh.street},
        }
        if p.name_latin:
            data["name_latin"] = p.name_latin
        if p.newborn and (age < 0.25 or rng.random() < 0.3 and age < 1):
            data["id_number_missing"] = "newborn"
        elif age < 1 and rng.random() < 0.4:
            data["id_number_missing"] = "newborn"
        elif age >= 18 and rng.random() < 0.006:
            data["id_number_missing"] = "not_at_hand"
        else:
            p.id_number = self.id_number(p.born, p.sex)
            data["id_number"] = p.id_number
            if rng.random() < 0.93:
                data["insurance_number"] = p.id_number  # the social security number is the ID number
        if rng.random() < (0.6 if p.newborn else 0.88):
            data["card_number"] = f"SC{self.town.code[4:]}{self.next_serial():07d}{rng.randrange(10)}"
        if p.phone:
            data["phone"] = p.phone
        if age >= 15:
            data["marital_status"] = ("30" if p.widowed else "20" if p.married else
                                      "40" if age > 30 and rng.random() < 0.08 else "10")
        occupation = self.occupation(p, age)
        if occupation and rng.random() < 0.96:
            data["occupation"] = occupation
        if rng.random() < 0.6:
            abo = self.weighted(((0.29, "A"), (0.25, "B"), (0.36, "O"), (0.10, "AB")))
            data["blood_type"] = {"abo": abo, "rh": "negative" if rng.random() < 0.004 else "positive"}
        elif rng.random() < 0.3:
            data["blood_type"] = {"abo": "unknown", "rh": "unknown"}
        history = self.past_history(p)
        if history:
            data["past_history"] = history
        fh = []
        for parent, rel in ((p.father, "51"), (p.mother, "52")):
            if parent is not None and parent.htn is not None:
                fh.append({"relation": rel, "icd10": "I10"})
            if parent is not None and parent.dm is not None:
                fh.append({"relation": rel, "icd10": "E11.9"})
        if not fh and age >= 30 and rng.random() < 0.12:
            fh.append({"relation": self.pick(("51", "52")), "icd10": self.pick(("I10", "I10", "E11.9", "I63.9", "C16.9"))})
        if fh:
            data["family_history"] = fh
        if p.disabilities:
            data["disabilities"] = list(p.disabilities)
        contact = self.emergency_contact(p, age)
        if contact and rng.random() < 0.85:
            data["emergency_contacts"] = [contact]
        family: dict[str, Any] = {"household_id": hh.hid, "relation_to_head": p.rel}
        refs: dict[str, str] = {}
        if p.mother is not None:
            refs["family.mother_id"] = p.mother.key
        if p.father is not None:
            refs["family.father_id"] = p.father.key
        if p.spouse is not None and p.link_spouse:
            refs["family.spouse_id"] = p.spouse.key
        data["family"] = family
        return SynthResident(p.key, data, refs, newborn=p.newborn)

    def occupation(self, p: _Person, age: float) -> str | None:
        if age < 6:
            return "preschool"
        if age < 18:
            return "student"
        if age < 22 and self.rng.random() < 0.4:
            return "student"
        community = p.hh.village.community
        if p.away:
            return self.weighted(((0.55, "6"), (0.4, "4"), (0.05, "8")))
        if age >= 65:
            if community:
                return self.weighted(((0.4, "retired"), (0.5, "unemployed"), (0.1, "5")))
            return self.weighted(((0.6, "5"), (0.35, "unemployed"), (0.05, "retired")))
        if community:
            return self.weighted(((0.35, "4"), (0.15, "3"), (0.12, "2"), (0.12, "5"), (0.1, "6"), (0.03, "1"),
                                  (0.08 if p.sex == "2" else 0.0, "homemaker"), (0.05, "unemployed")))
        return self.weighted(((0.72, "5"), (0.08, "4"), (0.03, "2"), (0.02, "3"), (0.01, "1"), (0.04, "6"),
                              (0.1 if p.sex == "2" else 0.0, "homemaker")))

    def past_history(self, p: _Person) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for icd, year in (("I10", p.htn), ("E11.9", p.dm)):
            if year is not None:
                out.append({"icd10": icd, "since": f"{year}-{self.rng.randrange(1, 13):02d}-01"})
        if p.copd:
            out.append({"icd10": "J44.9"})
        if p.chd:
            out.append({"icd10": "I25.1"})
        if p.smd is not None:
            out.append({"icd10": p.smd[0], "since": f"{p.smd[2]}-01-01"})
        if p.tb_start is not None and p.tb_start < self.start:
            out.append({"icd10": "A15.0", "since": self.iso(p.tb_start)})
        for item in out:
            if "since" in item and item["since"] > self.iso(self.today):
                item["since"] = self.iso(self.today)
            if "since" in item and item["since"] < self.iso(p.born):
                del item["since"]
        return out

    def emergency_contact(self, p: _Person, age: float) -> dict[str, Any] | None:
        rng = self.rng
        if age < 18:
            parent = p.mother or p.father
            if parent is not None and parent.phone:
                return {"name": parent.name, "relation": "52" if parent.sex == "2" else "51", "phone": parent.phone}
            return None
        if age >= 60:
            kids = [c for c in p.children if c.phone and c.age(self.today) >= 18]
            if kids:
                c = kids[0]
                return {"name": c.name, "relation": "20" if c.sex == "1" else "30", "phone": c.phone}
            if rng.random() < 0.6:  # a child registered elsewhere, working in the city
                sex = "1" if rng.random() < 0.6 else "2"
                name = (p.surname if p.sex == "1" or sex == "1" else self.surname()) + self.given_name(
                    sex, dt.date.fromordinal(p.born).year + 26)
                return {"name": name, "relation": "20" if sex == "1" else "30", "phone": self.phone()}
        if p.spouse is not None and p.spouse.phone and p.spouse.phone != p.phone:
            return {"name": p.spouse.name, "relation": "11" if p.spouse.sex == "1" else "12", "phone": p.spouse.phone}
        return None

    # -- emitting ------------------------------------------------------------------------------------

    def emit_household(self, hh: _Household) -> Iterator[SynthItem]:
        self.settle(hh)
        births: dict[int, list[tuple[int, int, bool]]] = {}
        if self.years:
            for i, p in enumerate(hh.members):
                plan = self.plan_births(p)
                if plan:
                    births[i] = plan
                    p.death = p.death_cause = None  # a mother-to-be lives through the period
        for p in list(hh.members):
            yield self.resident(p)
        for i, p in enumerate(list(hh.members)):
            tl = _Timeline(self, p)
            self.care(tl)
            for lmp, delivered, twins in births.get(i, ()):
                self.pregnancy(tl, lmp, delivered, twins)
            yield from tl.items()
            for child in [c for c in p.children if c.newborn]:
                ctl = _Timeline(self, child)
                self.care(ctl)
                yield from ctl.items()

    def plan_births(self, w: _Person) -> list[tuple[int, int, bool]]:
        """Pregnancies of a married woman during the period: (LMP, delivery day, twins)."""
        if w.sex != "2" or w.spouse is None:
            return []
        rng = self.rng
        out: list[tuple[int, int, bool]] = []
        last = max((c.born for c in w.children), default=None)
        day = self.start - 270
        while day < self.today - 40:
            age = w.age(day)
            if age > 43:
                break
            kids = len(w.children) + len(out)
            rate = (0.0 if age < 20 else (0.4 if age < 30 else 0.2 if age < 36 else 0.03) if kids == 0
                    else (0.18 if age < 33 else 0.06 if age < 38 else 0.01) if kids == 1
                    else 0.02 if kids == 2 else 0.004)
            if last is not None and day - last < 1.5 * _YEAR:
                rate = 0.0
            if rng.random() < rate / 12:
                lmp = day
                gest = int(rng.gauss(277, 9)) if rng.random() > 0.06 else rng.randrange(235, 258)
                delivered = lmp + max(230, min(gest, 295))
                if delivered > self.start:
                    out.append((lmp, delivered, rng.random() < 0.01))
                    last = delivered
                day = delivered + 60
            else:
                day += 30
        return out

    def care(self, tl: _Timeline) -> None:
        """Everything that happens to one person during the period, except their pregnancies."""
        p = tl.p
        if self.years == 0 or tl.end < tl.begin:
            return
        if p.allergy is not None:
            self.allergy(tl)
        if p.age(tl.end) < 7:
            self.child_health(tl)
        self.outpatient(tl)
        if p.htn is not None or p.dm is not None:
            self.chronic_followups(tl)
        if p.smd is not None:
            self.mental_followups(tl)
        if p.tb_start is not None:
            self.tuberculosis(tl)
        self.annual_exams(tl)
        self.referrals_and_stays(tl)
        if p.death is not None:
            self.death(tl)

    # -- vital signs ------------------------------------------------------------------------------

    def bp(self, p: _Person, day: int) -> tuple[int, int]:
        rng = self.rng
        if p.htn is not None and p.htn <= dt.date.fromordinal(day).year:
            if rng.random() < 0.02:
                return rng.randrange(180, 197), rng.randrange(104, 116)
            if rng.random() < p.control:
                return rng.randrange(118, 140), rng.randrange(68, 90)
            return rng.randrange(141, 179), rng.randrange(84, 106)
        age = p.age(day)
        s = int(max(92, min(139, 98 + 0.45 * age + rng.gauss(0, 8))))
        d = int(max(56, min(89, 60 + 0.22 * age + rng.gauss(0, 6))))
        return s, min(d, s - 20)

    def fpg(self, p: _Person, day: int) -> float:
        rng = self.rng
        if p.dm is not None and p.dm <= dt.date.fromordinal(day).year:
            return round(rng.uniform(5.3, 6.9) if rng.random() < p.control else rng.uniform(7.1, 13.8), 1)
        return round(rng.uniform(6.1, 6.9) if rng.random() < 0.05 else rng.uniform(4.2, 6.0), 1)

    def child_weight(self, p: _Person, day: int) -> float:
        return round(self.growth(p.sex, p.age(day) * 12)[0] * (1 + 0.11 * p.z), 1)

    def weight_at(self, p: _Person, day: int) -> float:
        if p.age(day) < 18:
            return self.child_weight(p, day)
        return round(p.weight + self.rng.uniform(-1.5, 1.5), 1)

    # -- prescriptions ---------------------------------------------------------------------------

    def rx_item(self, drug: str, p: _Person, day: int, *, days: int | None = None) -> dict[str, Any]:
        """One prescription line with a dose that fits the patient (weight-based for children)."""
        info = self.town.drugs[drug]
        if drug in _CHRONIC:
            _, freq, dose, per = _CHRONIC[drug]
            route, n_days = "po", 30
        else:
            dose, route, freq, n_days, per = _RX[drug]
        age = p.age(day)
        if age < 12:
            w = self.child_weight(p, day)
            if drug == "paracetamol_oral_susp":
                dose, freq, per = _half(max(1.5, w * 12 / 32)), "prn", 0
            elif drug == "ibuprofen_oral_susp":
                dose, freq, per = _half(max(2.0, w * 7.5 / 20)), "prn", 0
            elif drug == "amoxicillin_125mg_granule":
                units = max(1, round(w * 15 / 125))
                dose, freq, per = _num(units * 0.125), "tid", units
            elif drug == "azithromycin_100mg_granule":
                units = max(1, round(w * 10 / 100))
                dose, freq, n_days, per = _num(units * 0.1), "qd", 3, units
            elif drug == "ambroxol_oral_solution":
                dose, freq, per = ("2.5" if age < 6 else "5"), "bid", 0
            elif drug == "montmorillonite_3g_powder":
                dose, freq, per = "1", ("qd" if age < 1 else "bid" if age < 2 else "tid"), 1
            elif drug == "xiaochaihu_granule":
                dose, per = ("0.5" if age < 6 else "1"), (0.5 if age < 6 else 1)
            elif drug == "shuanghuanglian_oral_liquid":
                dose, per = "10", 1
            elif drug == "bifidobacterium_triple_cap":
                dose, per = "1", 1
            elif drug == "pudilan_xiaoyan_tab":
                dose, per = "2", 2
            elif drug == "loratadine_10mg_tab" and w < 30:
                dose, per = "5", 0.5
        n_days = days or n_days
        if freq == "st":
            n_days = 1
        if per:
            count = per * _TIMES[freq] * n_days
            quantity = max(1, math.ceil(count / info["pack"]))
        else:
            quantity = 1
        return {"drug": drug, "dose": dose, "dose_unit": info["unit"], "route": route, "frequency": freq,
                "days": n_days, "quantity": quantity, "unit_price": info["price"]}

    def choose_rx(self, dx: _Dx, p: _Person, age: float, fever: bool) -> list[str]:
        child = age < 12
        options = dx.child_rx if child and dx.child_rx else dx.adult_rx or dx.child_rx
        drugs = list(self.pick(options)) if options else []
        if child:
            drugs = [_CHILD_SWAP.get(d, d) for d in drugs]
        if not fever and len(drugs) > 1:
            drugs = [d for d in drugs if d not in _FEVER_DRUGS] or drugs[:1]
        if p.allergy is not None and p.allergy[1] in ("青霉素", "头孢类抗生素"):
            fallback = "azithromycin_100mg_granule" if child else "azithromycin_250mg_tab"
            drugs = [(_BETA_LACTAM_SWAP.get(d, fallback) if d in _BETA_LACTAMS else d) for d in drugs]
        if p.allergy is not None and p.allergy[1] == "阿司匹林":
            drugs = [d for d in drugs if d != "aspirin_ec_100mg_tab"] or ["isosorbide_mononitrate_20mg_tab"]
        return list(dict.fromkeys(drugs))

    # -- outpatient ---------------------------------------------------------------------------------

    def outpatient(self, tl: _Timeline) -> None:
        p = tl.p
        span = (tl.end - tl.begin + 1) / _YEAR
        age = p.age((tl.begin + tl.end) // 2)
        rate = 4.0 if age < 3 else 3.0 if age < 7 else 1.3 if age < 18 else 1.1 if age < 45 else 1.8 if age < 65 else 2.8
        if p.away:
            rate *= 0.25
        for _ in range(self.poisson(rate * span)):
            day = self.rng.randrange(tl.begin, tl.end + 1)
            a = p.age(day)
            fits, cum = self.town.dx_tables[bisect(_AGE_BANDS, a) - 1, p.sex, self.month(day)]
            if fits:
                self.encounter(tl, day, fits[bisect(cum, self.rng.random() * cum[-1])])
        extra = (("htn", p.htn is not None, 2.0), ("dm", p.dm is not None, 2.0), ("chd", p.chd, 0.8),
                 ("copd", p.copd, 1.0), ("cardio", p.htn is not None or p.dm is not None, 0.15))
        for need, has, yearly in extra:
            if not has:
                continue
            options = [d for d in _DX if d.requires == need]
            for _ in range(self.poisson(yearly * span * (0.3 if p.away else 1.0))):
                day = self.rng.randrange(tl.begin, tl.end + 1)
                if p.age(day) >= 18:
                    self.encounter(tl, day, self.pick(options))

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, prod = math.exp(-lam), 0, self.rng.random()
        while prod > limit:
            k += 1
            prod *= self.rng.random()
        return k

    def encounter(self, tl: _Timeline, day: int, dx: _Dx, *, complaint: str | None = None,
                  illness: str | None = None, diagnoses: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        """An outpatient visit and what follows from it; returns (encounter key, visit time)."""
        rng = self.rng
        p = tl.p
        age = p.age(day)
        minutes = self.clinic_time()
        when = self.at(day, minutes)
        fever = rng.random() < dx.fever
        temp = round(rng.uniform(38.0, 39.6) if fever else rng.uniform(36.2, 37.1), 1)
        base_pulse = 120 if age < 1 else 105 if age < 3 else 92 if age < 7 else 80 if age < 14 else 74
        vitals: dict[str, Any] = {
            "temperature_c": temp,
            "pulse": int(base_pulse + rng.randrange(-8, 12) + (temp - 37) * 10 * fever),
            "respiration": (rng.randrange(30, 42) if age < 1 else rng.randrange(24, 32) if age < 3
                            else rng.randrange(20, 26) if age < 7 else rng.randrange(16, 21)),
        }
        if age >= 14:
            vitals["systolic"], vitals["diastolic"] = self.bp(p, day)
        if age < 14:
            vitals["weight_kg"] = self.child_weight(p, day)
        if dx.icd in ("J18.9", "J18.0", "J44.1"):
            vitals["spo2"] = rng.randrange(90, 96)
        n = rng.randrange(dx.span[0], dx.span[1] + 1)
        fever_text = f"伴发热，最高体温{round(temp + rng.uniform(0, 0.5), 1)}℃，" if fever else "无发热，"
        doctor = self.pick(self.doctors)
        if dx.requires in ("htn", "dm") and complaint is None:
            complaint, illness, drugs = self.refill(p, day, dx.requires, vitals)
        else:
            drugs = self.choose_rx(dx, p, age, fever)
        data: dict[str, Any] = {
            "visit_time": when,
            "department": dx.dept if not (age < 14 and dx.dept == "全科") else "儿科",
            "doctor": doctor,
            "chief_complaint": complaint or dx.complaint.format(n=n),
            "present_illness": illness if illness is not None else dx.illness.format(n=n, fever=fever_text),
            "physical_exam": dx.exam,
            "vitals": vitals,
            "diagnoses": diagnoses or self.diagnoses(p, day, dx.icd),
            "advice": dx.advice,
        }
        orders: list[dict[str, Any]] = []
        charges: list[dict[str, Any]] = [{"item": "一般诊疗费", "category": "consultation", "unit_price": "10.00"}]
        lab = dx.lab if dx.lab and rng.random() < dx.lab[1] else None
        imaging = dx.imaging if dx.imaging and rng.random() < dx.imaging[1] else None
        if dx.icd == "E11.9" and lab and rng.random() < 0.3:
            lab = ("glucose+hba1c", 1.0)
        lab_report = self.lab_panel(lab[0], p, day, dx) if lab else None
        image = self.image(imaging[0], p, day) if imaging else None
        if lab_report:
            orders.append({"kind": "lab", "item": lab_report["panel_name"]})
            charges.append({"item": lab_report["panel_name"], "category": "lab", "unit_price": lab_report.pop("_price")})
        if image:
            orders.append({"kind": image.pop("_order"), "item": image["_item"]})
            charges.append({"item": image.pop("_item"), "category": "imaging", "unit_price": image.pop("_price")})
        items = [self.rx_item(d, p, day) for d in drugs]
        for it in items:
            info = self.town.drugs[it["drug"]]
            charges.append({"item": info["name"], "category": "drug_tcm" if info["tcm"] else "drug_western",
                            "quantity": str(it["quantity"]), "unit_price": it["unit_price"]})
        routes = {it["route"] for it in items}
        if "ivgtt" in routes:
            charges.append({"item": "静脉输液", "category": "treatment", "quantity": "3", "unit_price": "8.00"})
        if "im" in routes:
            charges.append({"item": "肌内注射", "category": "treatment", "unit_price": "3.00"})
        if dx.icd == "S61.0":
            orders.append({"kind": "procedure", "item": "清创缝合术"})
            charges.append({"item": "清创缝合术", "category": "treatment", "unit_price": "80.00"})
        if dx.icd == "W54":
            orders.append({"kind": "procedure", "item": "伤口冲洗消毒"})
            charges.append({"item": "伤口冲洗消毒", "category": "treatment", "unit_price": "20.00"})
        if orders:
            data["orders"] = orders
        data["charges"] = charges
        key = tl.add(day, "encounter", data)
        if items:
            tl.add(day, "prescription", {"prescribed_at": self.at(day, minutes + rng.randrange(5, 20)),
                                         "doctor": doctor, "items": items}, {"encounter_id": key})
        if lab_report:
            lab_report["collected_at"] = self.at(day, minutes + rng.randrange(10, 30))
            lab_report["reported_at"] = self.at(day, minutes + rng.randrange(40, 120))
            tl.add(day, "lab_report", lab_report, {"encounter_id": key})
        if image:
            image["examined_at"] = self.at(day, minutes + rng.randrange(15, 40))
            image["reported_at"] = self.at(day, minutes + rng.randrange(45, 100))
            tl.add(day, "imaging_report", image, {"encounter_id": key})
        if dx.icd == "W54":
            self.rabies(tl, day, minutes)
        return key, when

    def diagnoses(self, p: _Person, day: int, icd: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"icd10": icd, "primary": True}]
        year = dt.date.fromordinal(day).year
        for code, since in (("I10", p.htn), ("E11.9", p.dm)):
            if since is not None and since <= year and code != icd:
                out.append({"icd10": code})
        return out

    def refill(self, p: _Person, day: int, which: str, vitals: dict[str, Any]) -> tuple[str, str, list[str]]:
        """Complaint, history and drugs of a chronic patient's routine visit for medicine."""
        year = dt.date.fromordinal(day).year
        if which == "htn":
            since = p.htn or year
            drugs = list(p.regimen) or ["amlodipine_5mg_tab"]
            names = "、".join(self.town.drugs[d]["name"].split(" ")[0] for d in drugs)
            ok = "平稳" if vitals.get("systolic", 120) < 140 and vitals.get("diastolic", 80) < 90 else "欠佳"
            return ("高血压复诊取药", f"高血压病史{max(1, year - since)}年，平素服用{names}，近期血压控制{ok}，无头痛、胸闷。", drugs)
        since = p.dm or year
        drugs = list(p.dm_regimen) or ["metformin_500mg_tab"]
        names = "、".join(self.town.drugs[d]["name"].split(" ")[0] for d in drugs)
        return ("糖尿病复诊取药", f"2型糖尿病病史{max(1, year - since)}年，服用{names}，无多饮多尿，无手足麻木。", drugs)

    def rabies(self, tl: _Timeline, day: int, minutes: int) -> None:
        p = tl.p
        site = "L_thigh" if p.age(day) < 2 else "L_deltoid"
        for dose, offset in enumerate((0, 3, 7, 14, 28), start=1):
            d = day + offset
            if d > tl.end:
                break
            given = self.at(d, minutes + 30 if offset == 0 else self.clinic_time())
            data: dict[str, Any] = {
                "given_at": given, "vaccine": "Rabies", "dose_number": dose, "lot_number": self.lot(d),
                "manufacturer": "成都康华生物制品股份有限公司", "site": site, "route": "im",
                "administered_by": self.pick(self.nurses),
            }
            if dose < 5:
                data["next_due_on"] = self.iso(day + (3, 7, 14, 28)[dose - 1])
            tl.add(d, "immunization", data)

    def lot(self, day: int) -> str:
        d = dt.date.fromordinal(day - self.rng.randrange(60, 400))
        return f"{d.year}{d.month:02d}{self.pick('ABCDE')}{self.rng.randrange(1, 200):03d}"

    # -- lab and imaging -------------------------------------------------------------------------------

    def lab_panel(self, panel: str, p: _Person, day: int, dx: _Dx | None = None) -> dict[str, Any]:
        rng = self.rng
        age = p.age(day)
        male = p.sex == "1"
        items: list[dict[str, Any]]
        if panel in ("cbc", "anemia"):
            infection = dx.infection if dx else ""
            child = age < 12
            if infection == "bacterial":
                wbc, neut = rng.uniform(9.8, 16.5), rng.uniform(74, 88)
            elif infection == "viral":
                wbc, neut = rng.uniform(3.4, 7.8), rng.uniform(38, 60)
            else:
                wbc, neut = rng.uniform(4.2, 9.0), rng.uniform(48, 70)
            lym = max(5.0, 100 - neut - rng.uniform(5, 10))
            hgb = (rng.uniform(82, 108) if panel == "anemia" else rng.gauss(140 if male else 125, 9) if age >= 12
                   else rng.gauss(122, 8))
            hgb_ref = (110, 160) if child else (130, 175) if male else (115, 150)
            rbc_ref = (4.0, 5.5) if child else (4.3, 5.8) if male else (3.8, 5.1)
            items = [
                _lab("6690-2", "白细胞计数", wbc, "10^9/L", (4.0, 12.0) if child else (3.5, 9.5), 2),
                _lab("770-8", "中性粒细胞百分比", neut, "%", (31, 70) if child else (40, 75), 1),
                _lab("736-9", "淋巴细胞百分比", lym, "%", (23, 59) if child else (20, 50), 1),
                _lab("789-8", "红细胞计数", hgb / 29.5, "10^12/L", rbc_ref, 2),
                _lab("718-7", "血红蛋白", hgb, "g/L", hgb_ref, 0),
                _lab("777-3", "血小板计数", rng.uniform(140, 320), "10^9/L", (125, 350), 0),
            ]
            return self.lab_report(items, "blood", "血常规", "CBC", "20.00")
        if panel in ("glucose", "glucose+hba1c"):
            fpg = self.fpg(p, day)
            items = [_lab("1558-6", "空腹血糖", fpg, "mmol/L", (3.9, 6.1), 2)]
            if panel == "glucose+hba1c":
                items.append(_lab("4548-4", "糖化血红蛋白", (fpg + 2.59) / 1.59 + rng.uniform(-0.3, 0.3), "%", (4.0, 6.0), 1))
                return self.lab_report(items, "blood", "空腹血糖+糖化血红蛋白", "GLU-HBA1C", "65.00")
            return self.lab_report(items, "serum", "空腹血糖", "GLU", "5.00")
        if panel == "lipids":
            high = dx is not None and dx.icd == "E78.5"
            items = self.lipid_items(high)
            return self.lab_report(items, "serum", "血脂四项", "LIPID4", "40.00")
        if panel == "urine":
            uti = dx is not None and dx.icd == "N39.0"
            items = [
                {"code": "20454-5", "name": "尿蛋白", "value": "阴性", "reference_range": "阴性", "abnormal": "N"},
                {"code": "25428-4", "name": "尿葡萄糖", "value": "阴性", "reference_range": "阴性", "abnormal": "N"},
                {"code": "5799-2", "name": "白细胞酯酶", "value": "++" if uti else "阴性", "reference_range": "阴性",
                 "abnormal": "A" if uti else "N"},
                {"code": "5802-4", "name": "亚硝酸盐", "value": "阳性" if uti and rng.random() < 0.6 else "阴性",
                 "reference_range": "阴性"},
                _lab("5811-5", "尿比重", rng.uniform(1.008, 1.028), None, (1.003, 1.030), 3),
            ]
            items[3]["abnormal"] = "A" if items[3]["value"] == "阳性" else "N"
            return self.lab_report(items, "urine", "尿常规", "UA", "10.00")
        if panel == "chem":
            fpg = self.fpg(p, day)
            items = [
                _lab("1742-6", "丙氨酸氨基转移酶", rng.uniform(10, 38) if rng.random() > 0.07 else rng.uniform(52, 90), "U/L",
                     (9, 50) if male else (7, 40), 0),
                _lab("1920-8", "天门冬氨酸氨基转移酶", rng.uniform(15, 34), "U/L", (15, 40) if male else (13, 35), 0),
                _lab("1975-2", "总胆红素", rng.uniform(5, 19), "μmol/L", (0, 21), 1),
                _lab("2160-0", "肌酐", rng.uniform(58, 105) * (1.0 if male else 0.78) * (1.35 if p.dm and rng.random() < 0.15 else 1.0),
                     "μmol/L", (57, 111) if male else (41, 81), 0),
                _lab("22664-7", "尿素", rng.uniform(3.2, 7.8), "mmol/L", (2.9, 8.2), 2),
                _lab("3084-1", "尿酸", rng.uniform(230, 470) if male else rng.uniform(170, 380), "μmol/L",
                     (208, 428) if male else (155, 357), 0),
                *self.lipid_items(False),
                _lab("1558-6", "空腹血糖", fpg, "mmol/L", (3.9, 6.1), 2),
            ]
            return self.lab_report(items, "serum", "生化全项（肝功、肾功、血脂、血糖）", "CHEM", "90.00")
        raise ValueError(f"unknown lab panel {panel!r}")  # pragma: no cover

    def lipid_items(self, high: bool) -> list[dict[str, Any]]:
        rng = self.rng
        tc = rng.gauss(6.1 if high else 4.8, 0.7)
        ldl = max(0.8, tc * 0.62 + rng.gauss(0, 0.25))
        return [
            _lab("2093-3", "总胆固醇", tc, "mmol/L", (None, 5.2), 2),
            _lab("2571-8", "甘油三酯", math.exp(rng.gauss(0.45 if high else 0.25, 0.4)), "mmol/L", (None, 1.7), 2),
            _lab("2085-9", "高密度脂蛋白胆固醇", max(0.6, rng.gauss(1.3, 0.28)), "mmol/L", (1.04, None), 2),
            _lab("13457-7", "低密度脂蛋白胆固醇", ldl, "mmol/L", (None, 3.4), 2),
        ]

    def lab_report(self, items: list[dict[str, Any]], specimen: str, name: str, code: str, price: str) -> dict[str, Any]:
        staff = self.lab_staff
        return {"specimen": specimen, "panel_name": name, "panel_code": code, "items": items,
                "lab_name": f"{self.town.clinic}检验科", "reported_by": staff[0], "reviewer": staff[1], "_price": price}

    def image(self, kind: str, p: _Person, day: int, *, weeks: int = 0) -> dict[str, Any]:
        """An imaging report (without times or refs); ``_order``, ``_item``, ``_price`` are for the encounter."""
        rng = self.rng
        if kind == "ecg":
            modality, part, item, price, order = "ECG", "HEART", "常规心电图", "25.00", "ecg"
            findings, conclusion, positive = self.ecg(p, day)
        elif kind in ("chest", "pneumonia", "copd", "tb"):
            modality, part, item, price, order = "DX", "CHEST", "胸部正位DR", "60.00", "imaging"
            findings, conclusion, positive = {
                "chest": ("双肺纹理增多、增粗，未见明显实变影，心影大小形态正常，双膈面光整。", "双肺纹理增多，考虑支气管炎改变。", True)
                if rng.random() < 0.6 else ("双肺纹理清晰，未见明显实质性病变，心影大小形态正常，双膈面光整。", "心肺未见明显异常。", False),
                "pneumonia": ("右下肺野见斑片状模糊影，边缘不清，心影不大，右肋膈角清晰。", "右下肺炎症，建议治疗后复查。", True),
                "copd": ("双肺透亮度增高，肺纹理紊乱、增粗，膈肌低平，心影狭长。", "慢性支气管炎、肺气肿征象。", True),
                "tb": ("右上肺见斑片状、条索状密度增高影，边缘模糊，其内见小透亮区。", "右上肺继发性肺结核可能，请结合痰检。", True),
            }[kind]
        elif kind == "abdomen":
            modality, part, item, price, order = "US", "LIVER", "腹部彩超（肝胆胰脾）", "80.00", "ultrasound"
            findings, conclusion, positive = self.abdomen(p)
        elif kind == "urinary":
            modality, part, item, price, order = "US", "KIDNEY", "泌尿系彩超", "80.00", "ultrasound"
            findings, conclusion, positive = ("双肾大小形态正常，前列腺增大，约4.8cm×3.9cm×3.6cm，内腺回声不均，残余尿约30ml。",
                                              "前列腺增生。", True)
        elif kind == "fetus":
            modality, part, item, price, order = "US", "FETUS", "产科彩超", "120.00", "ultrasound"
            findings = f"宫内见一胎儿，胎心搏动可见，双顶径及股骨长符合孕{weeks}周，胎盘位于子宫前壁，羊水深度约5.0cm。"
            conclusion, positive = f"宫内妊娠，单活胎，约孕{weeks}周。", False
        else:
            part = {"lspine": "LSPINE", "knee": "KNEE", "ankle": "FOOT"}[kind]
            modality, item, price, order = "DX", {"LSPINE": "腰椎正侧位DR", "KNEE": "双膝关节正侧位DR", "FOOT": "踝关节正侧位DR"}[part], "80.00", "imaging"
            findings, conclusion, positive = {
                "LSPINE": ("腰椎生理曲度变直，L3-5椎体边缘骨质增生，椎间隙未见明显狭窄。", "腰椎退行性变。", True),
                "KNEE": ("双膝关节间隙内侧变窄，髁间隆起变尖，关节边缘骨质增生。", "双膝关节退行性骨关节病。", True),
                "FOOT": ("右踝关节诸骨骨质连续，未见明显骨折征象，软组织肿胀。", "右踝关节未见明显骨折。", False),
            }[part]
        serial = self.next_serial()
        yy = dt.date.fromordinal(day).year % 100
        prefix = {"ECG": "EC", "US": "US"}.get(modality, "DR")
        return {
            "modality": modality, "body_part": part,
            "study_uid": f"1.2.156.112605.{self.town.code}.{day}.{serial}",
            "accession_number": f"{prefix}{yy:02d}{serial:08d}",
            "findings": findings, "conclusion": conclusion, "positive": positive,
            "reporting_doctor": self.pick(self.doctors), "institution": self.town.clinic,
            "_item": item, "_price": price, "_order": order,
        }

    def ecg(self, p: _Person, day: int) -> tuple[str, str, bool]:
        rng = self.rng
        age = p.age(day)
        if p.chd and rng.random() < 0.6:
            return "窦性心律，心率68次/分，V4-V6导联ST段水平压低0.05-0.1mV，T波低平。", "窦性心律；ST-T改变。", True
        if age > 75 and rng.random() < 0.08:
            return "P波消失，代之以大小不等f波，心室率约86次/分，RR间期绝对不等。", "心房颤动。", True
        if p.htn is not None and rng.random() < 0.3:
            return "窦性心律，心率72次/分，RV5+SV1=4.3mV。", "窦性心律；左心室高电压。", True
        return f"窦性心律，心率{rng.randrange(62, 88)}次/分，各导联ST-T未见明显异常。", "窦性心律，正常心电图。", False

    def abdomen(self, p: _Person) -> tuple[str, str, bool]:
        r = self.rng.random()
        if r < 0.22 + 0.1 * (p.dm is not None):
            return "肝脏大小正常，实质回声细密增强，后方回声衰减，胆囊、胰腺、脾脏未见明显异常。", "脂肪肝（轻度）。", True
        if r < 0.3 + 0.1 * (p.dm is not None):
            return "胆囊大小正常，囊内见一强回声团，大小约0.8cm，后伴声影，随体位移动。", "胆囊结石。", True
        return "肝脏大小形态正常，实质回声均匀，胆囊、胰腺、脾脏未见明显异常。", "肝胆胰脾未见明显异常。", False

    # -- key populations: chronic disease --------------------------------------------------------

    def since_day(self, year: int) -> int:
        return max(self.start, dt.date(year, 1, 1).toordinal() + self.rng.randrange(365))

    def chronic_followups(self, tl: _Timeline) -> None:
        """Quarterly hypertension and diabetes follow-ups (on the same day when a patient has both)."""
        rng = self.rng
        p = tl.p
        first_dx = min(y for y in (p.htn, p.dm) if y is not None)
        day = max(tl.begin, self.since_day(first_dx)) + rng.randrange(0, 60)
        village_doctor = self.village_doctors[p.hh.village.code]
        while day <= tl.end:
            year = dt.date.fromordinal(day).year
            method = self.weighted(((0.4, "clinic"), (0.35, "home"), (0.25, "phone")))
            if p.away:
                method = "phone"
            doctor = village_doctor if method != "clinic" or rng.random() < 0.5 else self.pick(self.public_health)
            nxt = day + rng.randrange(84, 98)
            sbp, dbp = self.bp(p, day)
            common = self.followup_common(p, day, method, doctor, sbp, dbp, nxt)
            if p.htn is not None and p.htn <= year:
                tl.add(day, "hypertension_followup", self.htn_form(p, common))
            if p.dm is not None and p.dm <= year:
                tl.add(day, "diabetes_followup", self.dm_form(p, day, common, method))
            day = nxt + rng.randrange(-5, 6)

    def followup_common(self, p: _Person, day: int, method: str, doctor: str, sbp: int, dbp: int,
                        nxt: int) -> dict[str, Any]:
        rng = self.rng
        data: dict[str, Any] = {
            "followup_date": self.iso(day), "method": method, "systolic": sbp, "diastolic": dbp,
            "weight_kg": self.weight_at(p, day), "heart_rate": rng.randrange(62, 90),
            "exercise_times_per_week": rng.choice((0, 2, 3, 5, 7, 7)), "exercise_minutes": rng.choice((20, 30, 30, 40, 60)),
            "salt_intake": self.weighted(((0.35, "light"), (0.45, "moderate"), (0.2, "heavy"))),
            "psychological_adjustment": self.weighted(((0.8, "good"), (0.18, "fair"), (0.02, "poor"))),
            "compliance": self.weighted(((0.7, "good"), (0.25, "fair"), (0.05, "poor"))),
            "next_followup": self.iso(nxt), "doctor": doctor,
        }
        if p.smoker == "current":
            data["cigarettes_per_day"] = p.cigarettes
        if p.alcohol:
            data["alcohol_liang_per_day"] = p.alcohol
        if sbp >= 180 or dbp >= 110:
            data["referral"] = True
            data["referral_reason"] = f"血压{sbp}/{dbp}mmHg，规律服药仍控制不佳，转上级医院调整治疗方案"
        return data

    def meds(self, drugs: Sequence[str]) -> list[dict[str, Any]]:
        return [{"drug": d, "dose": _CHRONIC[d][0], "frequency": _CHRONIC[d][1]} for d in drugs]

    def htn_form(self, p: _Person, common: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        data = dict(common)
        sbp, dbp = data["systolic"], data["diastolic"]
        controlled = sbp < 140 and dbp < 90
        data["symptoms"] = ["none"] if controlled or rng.random() < 0.5 else [self.pick(("headache_dizziness", "vision_tinnitus", "palpitation"))]
        if not p.regimen:
            data["adherence"], data["control"] = "none", "controlled" if controlled else "uncontrolled"
            return data
        data["adherence"] = "regular" if rng.random() < 0.8 else "intermittent"
        data["medications"] = self.meds(p.regimen)
        data["control"] = "controlled" if controlled else "uncontrolled"
        if rng.random() < 0.03:
            note = ("服药后双踝轻度水肿" if any("dipine" in d for d in p.regimen) else
                    "服药后干咳" if any(d.startswith(("captopril", "enalapril")) for d in p.regimen) else "服药后偶有头晕、乏力")
            data.update(adverse_reaction=True, adverse_reaction_note=note, control="adverse")
        return data

    def dm_form(self, p: _Person, day: int, common: dict[str, Any], method: str) -> dict[str, Any]:
        rng = self.rng
        data = dict(common)
        fpg = self.fpg(p, day)
        data["fasting_glucose"] = fpg
        if method == "clinic" and rng.random() < 0.3:
            data["hba1c"] = round((fpg + 2.59) / 1.59 + rng.uniform(-0.3, 0.3), 1)
        data["staple_food_g_per_day"] = rng.choice((200, 250, 250, 300, 350, 400))
        data["symptoms"] = ["none"] if fpg < 7 or rng.random() < 0.6 else rng.sample(["polydipsia", "polyuria", "blurred_vision", "numbness"], 2)
        drugs = p.dm_regimen
        data["medications"] = self.meds(drugs)
        sulfonylurea = any(d.startswith(("glic", "glim", "glip")) for d in drugs) or p.insulin is not None
        data["hypoglycemia"] = "occasional" if sulfonylurea and rng.random() < 0.15 else "none"
        if p.insulin is not None:
            _, kind, dose = p.insulin
            data["insulin"] = {"kind": kind, "dose": dose.format(a=rng.randrange(8, 20), b=rng.randrange(6, 16))}
        data["adherence"] = "regular" if rng.random() < 0.78 else "intermittent"
        data["control"] = "controlled" if fpg < 7.0 else "uncontrolled"
        if rng.random() < 0.02:
            data.update(adverse_reaction=True, adverse_reaction_note="服用二甲双胍后腹胀、腹泻", control="adverse")
        return data

    def mental_followups(self, tl: _Timeline) -> None:
        rng = self.rng
        p = tl.p
        assert p.smd is not None
        day = tl.begin + rng.randrange(0, 60)
        discharged = None
        if rng.random() < 0.5:
            discharged = self.iso(max(p.born + 6600, dt.date(p.smd[2], 6, 1).toordinal() + rng.randrange(200)))
        while day <= tl.end:
            stable = rng.random() < p.control + 0.1
            risk = 0 if stable else self.weighted(((0.55, 1), (0.3, 2), (0.1, 3), (0.05, 4)))
            classification = ("stable" if risk == 0 and rng.random() < 0.85 else "basically_stable" if risk <= 2 and rng.random() < 0.7
                              else "unstable")
            if risk == 0 and classification == "unstable":
                classification = "basically_stable"
            nxt = day + (rng.randrange(12, 16) if classification == "unstable" else rng.randrange(84, 98))
            data: dict[str, Any] = {
                "followup_date": self.iso(day),
                "method": self.weighted(((0.5, "home"), (0.3, "clinic"), (0.2, "phone"))),
                "risk_level": risk,
                "symptoms": [] if classification == "stable" else rng.sample(
                    ["hallucination", "suspicion", "self_talk", "withdrawal", "moody", "bizarre"], rng.randrange(1, 3)),
                "insight": "full" if classification == "stable" else self.pick(("partial", "partial", "none")),
                "sleep": "good" if stable else "fair", "diet": "good" if stable else "fair",
                "social_function": {"personal_care": "good" if stable else "fair", "housework": "fair",
                                    "work": "fair" if stable else "poor", "learning": "fair",
                                    "social_interaction": "fair" if stable else "poor"},
                "lock_status": "never",
                "hospitalization": "past" if discharged else "never",
                "adherence": "regular" if stable else self.pick(("intermittent", "regular", "none")),
                "treatment_effect": "improved" if stable else self.pick(("unchanged", "worse", "improved")),
                "rehabilitation": ["daily_living"] if stable else [],
                "classification": classification,
                "medications": self.meds(p.psych_regimen),
                "next_followup": self.iso(nxt),
                "doctor": self.pick(self.public_health),
            }
            if discharged:
                data["last_discharge_date"] = min(discharged, self.iso(day))
            if risk >= 2:
                data["dangerous_behaviours"] = [{"kind": "mild_trouble" if risk == 2 else "trouble", "count": 1}]
            if risk >= 3:
                data["referral"] = True
                data["referral_reason"] = "病情不稳定，危险性评估3级以上，建议转精神专科医院治疗"
            tl.add(day, "mental_followup", data)
            day = nxt + rng.randrange(-3, 4)

    def tuberculosis(self, tl: _Timeline) -> None:
        """Suspected at the clinic, confirmed at the county hospital, six months of supervised treatment."""
        rng = self.rng
        p = tl.p
        assert p.tb_start is not None
        start = p.tb_start
        smear_positive = rng.random() < 0.6
        seen = start - rng.randrange(7, 15)
        if tl.begin <= seen <= tl.end:
            key, when = self.encounter(
                tl, seen, _TB_DX, complaint="咳嗽、咳痰3周，伴午后低热、盗汗",
                illness="3周前无明显诱因出现咳嗽、咳白黏痰，伴午后低热、夜间盗汗、乏力、消瘦，抗感染治疗效果不佳。",
                diagnoses=[{"icd10": "R05", "primary": True, "note": "疑似肺结核，转县结核病定点医院"}])
            out = self.referral_out(tl, seen, when, "A16.2", "咳嗽咳痰3周伴低热、盗汗，胸片示右上肺斑片影，疑似肺结核", "routine")
            if start - 1 <= tl.end:
                result = ("痰涂片抗酸杆菌阳性，确诊为继发性肺结核（初治，涂阳）。" if smear_positive
                          else "痰涂片阴性，结合胸部CT确诊为继发性肺结核（初治，涂阴）。")
                self.referral_back(tl, start - 1, out, "A15.0" if smear_positive else "A16.0", result,
                                   "2HRZE/4HR方案，每日顿服，由村医督导服药，每月复查。")
        supervisor = self.weighted(((0.6, "medical_staff"), (0.35, "family"), (0.05, "volunteer")))
        for month in range(1, 7):
            day = start + (month - 1) * 30 + rng.randrange(0, 5)
            if day > tl.end:
                break
            if day < tl.begin:
                continue
            intensive = month <= 2
            data: dict[str, Any] = {
                "followup_date": self.iso(day), "method": "home" if month > 1 else "clinic", "treatment_month": month,
                "stage": "intensive" if intensive else "continuation", "supervisor": supervisor,
                "symptoms": ["cough", "fever_sweats"] if month == 1 else ["cough"] if month == 2 and rng.random() < 0.5 else ["none"],
                "regimen": "2HRZE/4HR", "drugs": ["HRZE"] if intensive else ["HR"], "dosing": "daily",
                "missed_doses": rng.choice((0, 0, 0, 1, 2)), "doctor": self.village_doctors[p.hh.village.code],
            }
            if month in (2, 5, 6):
                data["sputum_result"] = "positive" if month == 2 and smear_positive and rng.random() < 0.1 else "negative"
            if rng.random() < 0.08:
                data.update(adverse_reaction=True, adverse_reaction_note=self.pick(("恶心、纳差", "皮肤瘙痒", "关节痛")))
            if month == 6:
                data["outcome"] = "cured" if smear_positive else "completed"
            else:
                data["next_followup"] = self.iso(day + 30)
            tl.add(day, "tb_followup", data)

    # -- examinations ------------------------------------------------------------------------------

    def annual_exams(self, tl: _Timeline) -> None:
        """The yearly health examination for the over-65s and chronic patients, with its tests."""
        rng = self.rng
        p = tl.p
        first = dt.date.fromordinal(tl.begin).year
        last = dt.date.fromordinal(tl.end).year
        for year in range(first, last + 1):
            day = dt.date(year, 1, 1).toordinal() + int(rng.triangular(60, 240, 120))
            if not tl.begin <= day <= tl.end:
                continue
            age = p.age(day)
            elderly = age >= 65
            chronic = (p.htn is not None or p.dm is not None) and age >= 35
            if not (elderly and rng.random() < 0.72 or chronic and rng.random() < 0.8):
                continue
            self.health_exam(tl, day, elderly)

    def health_exam(self, tl: _Timeline, day: int, elderly: bool) -> None:
        rng = self.rng
        p = tl.p
        age = p.age(day)
        sbp, dbp = self.bp(p, day)
        weight = self.weight_at(p, day)
        height = round(p.height, 1)
        bmi = round(weight / (height / 100) ** 2, 1)
        tests = elderly and rng.random() < 0.9
        doctor = self.pick(self.public_health)
        abnormalities: list[str] = []
        if sbp >= 140 or dbp >= 90:
            abnormalities.append(f"血压偏高（{sbp}/{dbp}mmHg）")
        if bmi >= 28:
            abnormalities.append(f"肥胖（BMI {bmi}）")
        elif bmi >= 24:
            abnormalities.append(f"超重（BMI {bmi}）")
        aux: dict[str, Any] = {}
        problems = [c for c, y in (("I10", p.htn), ("E11.9", p.dm)) if y is not None]
        problems += ["J44.9"] * p.copd + ["I25.1"] * p.chd
        if tests:
            minutes = rng.randrange(7 * 60 + 30, 9 * 60 + 30)  # fasting blood in the morning
            cbc = self.lab_panel("cbc", p, day)
            chem = self.lab_panel("chem", p, day)
            fpg = next(i["value"] for i in chem["items"] if i["code"] == "1558-6")
            hgb = next(i for i in cbc["items"] if i["code"] == "718-7")
            aux["fasting_glucose"] = fpg
            aux["blood_routine"] = "血红蛋白偏低" if hgb["abnormal"] == "L" else "未见异常"
            aux["urine_routine"] = "尿糖+" if p.dm is not None and fpg >= 10 else "未见异常"
            if fpg >= 7.0:
                abnormalities.append(f"空腹血糖升高（{fpg}mmol/L）")
            elif fpg >= 6.1:
                abnormalities.append(f"空腹血糖受损（{fpg}mmol/L）")
            if hgb["abnormal"] == "L":
                abnormalities.append("轻度贫血")
            for report in (cbc, chem):
                report.pop("_price")
                report["collected_at"] = self.at(day, minutes)
                report["reported_at"] = self.at(day, minutes + rng.randrange(120, 300))
                tl.add(day, "lab_report", report)
            for kind in ("ecg", "abdomen"):
                image = self.image(kind, p, day)
                for k in ("_item", "_price", "_order"):
                    image.pop(k)
                image["examined_at"] = self.at(day, minutes + rng.randrange(20, 90))
                image["reported_at"] = self.at(day, minutes + rng.randrange(100, 160))
                tl.add(day, "imaging_report", image)
                aux["ecg" if kind == "ecg" else "b_ultrasound"] = image["conclusion"]
                if image["positive"]:
                    abnormalities.append(("心电图：" if kind == "ecg" else "腹部B超：") + image["conclusion"].rstrip("。"))
        symptoms = ["none"]
        if rng.random() < (0.5 if elderly else 0.3):
            pool = ["dizziness", "joint_pain", "dim_vision", "tinnitus", "fatigue", "constipation"]
            pool += ["chronic_cough", "sputum"] * p.copd + ["polydipsia", "polyuria"] * (p.dm is not None)
            symptoms = rng.sample(pool, rng.randrange(1, 3))
        lifestyle: dict[str, Any] = {
            "smoking_status": p.smoker,
            "drinking_status": {"never": "never", "occasional": "occasional", "frequent": "frequent", "daily": "daily"}[p.drinker],
            "exercise_frequency": self.weighted(((0.3, "daily"), (0.2, "weekly"), (0.3, "occasional"), (0.2, "never"))),
            "diet": ["balanced"] if rng.random() < 0.6 else rng.sample(["salty", "oily", "meat", "vegetarian"], 2),
        }
        if p.smoker == "current":
            lifestyle["cigarettes_per_day"] = p.cigarettes
        if p.alcohol:
            lifestyle["alcohol_liang_per_day"] = p.alcohol
        if lifestyle["exercise_frequency"] != "never":
            lifestyle["exercise_minutes"] = rng.choice((20, 30, 40, 60))
        acuity = max(0.1, min(1.2, 1.1 - max(0.0, age - 50) * 0.015 + rng.gauss(0, 0.12)))
        guidance = ["diet", "exercise"]
        if problems:
            guidance.insert(0, "chronic_management")
        if p.smoker == "current":
            guidance.append("quit_smoking")
        if p.alcohol:
            guidance.append("drink_less")
        if bmi >= 24:
            guidance.append("lose_weight")
        if abnormalities:
            guidance.append("recheck")
        if elderly:
            guidance.append("vaccination")
        data: dict[str, Any] = {
            "exam_date": self.iso(day), "symptoms": symptoms,
            "vitals": {"temperature_c": round(rng.uniform(36.2, 36.9), 1), "pulse": rng.randrange(62, 88),
                       "respiration": rng.randrange(16, 21), "systolic": sbp, "diastolic": dbp,
                       "height_cm": height, "weight_kg": weight},
            "bmi": bmi,
            "waist_cm": round((80 if p.sex == "1" else 76) + (bmi - 22) * 2.4 + rng.gauss(0, 3), 1),
            "lifestyle": lifestyle,
            "organ_function": {"vision_left": round(acuity, 1), "vision_right": round(max(0.1, acuity + rng.gauss(0, 0.1)), 1),
                               "hearing": "not_heard" if age > 80 and rng.random() < 0.3 else "heard",
                               "motor_function": "unable" if age > 85 and rng.random() < 0.2 else "able"},
            "physical_findings": f"皮肤、巩膜无黄染，浅表淋巴结未触及肿大，双肺呼吸音{'低' if p.copd else '清'}，心率{rng.randrange(62, 88)}次/分，"
                                 "律齐，腹软无压痛，双下肢无水肿。",
            "health_problems": problems,
            "assessment": "abnormal" if abnormalities else "normal",
            "guidance": guidance,
            "doctor": doctor,
        }
        if aux:
            data["auxiliary"] = aux
        if abnormalities:
            data["abnormalities"] = abnormalities
        tl.add(day, "health_exam", data)
        if elderly:
            self.elderly_assessment(tl, day, doctor)

    def elderly_assessment(self, tl: _Timeline, day: int, assessor: str) -> None:
        rng = self.rng
        age = tl.p.age(day)
        independent = 0.88 if age < 75 else 0.72 if age < 85 else 0.5
        scores: dict[str, int] = {}
        level = 0 if rng.random() < independent else self.weighted(((0.5, 1), (0.3, 2), (0.2, 3)))
        for item, allowed in _SELF_CARE.items():
            grade = min(len(allowed) - 1, max(0, level - (1 if rng.random() < 0.5 else 0)))
            scores[item] = allowed[grade]
        total = sum(scores.values())
        code = "3" if total >= 19 else "2" if total >= 9 else "1" if total >= 4 else "0"
        tl.add(day, "elderly_assessment", {"assessed_on": self.iso(day), **scores, "total": total, "level": code,
                                           "assessor": assessor})

    # -- allergies, referrals, stays, death -------------------------------------------------------------

    def allergy(self, tl: _Timeline) -> None:
        rng = self.rng
        p = tl.p
        assert p.allergy is not None
        _, substance, category, drug, reaction, severity = p.allergy
        day = rng.randrange(tl.begin, tl.end + 1)
        data: dict[str, Any] = {"recorded_on": self.iso(day), "substance": substance, "substance_category": category,
                                "reaction": reaction, "severity": severity, "status": "active"}
        if drug:
            data["drug"] = drug
        onset = day - rng.randrange(0, 20 * 365)
        if onset > p.born:
            data["onset_on"] = self.iso(onset)
        tl.add(day, "allergy", data)

    def referral_out(self, tl: _Timeline, day: int, when: str, icd: str, reason: str, urgency: str) -> str:
        p = tl.p
        history = "、".join(self.town.drugs[d]["name"].split(" ")[0] for d in p.regimen) if p.regimen else ""
        data: dict[str, Any] = {
            "referred_at": self.at(day, _minutes(when) + 30), "direction": "out", "from_clinic": self.town.code,
            "to_clinic": _COUNTY_HOSPITAL, "reason": reason, "preliminary_diagnoses": [icd], "urgency": urgency,
            "referring_doctor": self.pick(self.doctors),
        }
        if p.htn is not None:
            data["history_summary"] = f"高血压病史，服用{history}。" if history else "高血压病史，未规律服药。"
        return tl.add(day, "referral", data)

    def referral_back(self, tl: _Timeline, day: int, out: str, icd: str, results: str, treatment: str) -> None:
        data = {
            "referred_at": self.at(day, self.clinic_time()), "direction": "back", "from_clinic": _COUNTY_HOSPITAL,
            "to_clinic": self.town.code, "reason": "经上级医院诊治，病情稳定，转回基层继续治疗和随访",
            "preliminary_diagnoses": [icd], "results": results, "treatment_given": treatment, "urgency": "routine",
            "referring_doctor": self.pick(self.county_doctors),
        }
        tl.add(day, "referral", data, {"referral_id": out})

    def referrals_and_stays(self, tl: _Timeline) -> None:
        rng = self.rng
        p = tl.p
        span = (tl.end - tl.begin + 1) / _YEAR
        age = p.age((tl.begin + tl.end) // 2)
        ref_rate = 0.03 if age >= 60 else 0.012 if age >= 30 else 0.004
        for _ in range(self.poisson(ref_rate * span)):
            day = rng.randrange(tl.begin, tl.end + 1)
            options = [r for r in _REFERRALS if p.age(day) >= r[3] and (r[0] != "N63" or p.sex == "2")
                       and (r[0] != "I10" or p.htn is not None) and (r[0] != "E11.9" or p.dm is not None)]
            if not options:
                continue
            icd, reason, urgency, _, result, treatment = self.pick(options)
            when = self.at(day, self.clinic_time())
            out = self.referral_out(tl, day, when, icd, reason, urgency)
            back = day + rng.randrange(6, 21)
            if back <= tl.end and rng.random() < 0.75:
                self.referral_back(tl, back, out, icd, result, treatment)
        stay_rate = 0.09 if age >= 60 else 0.025 if age >= 16 else 0.03 if age < 7 else 0.01
        for _ in range(self.poisson(stay_rate * span)):
            admitted = rng.randrange(tl.begin, tl.end + 1)
            a = p.age(admitted)
            options = [s for s in _STAYS if s[2] <= a <= s[3]]
            if not options:
                continue
            stay = self.weighted(tuple((s[4], s) for s in options))
            los = rng.randrange(4, 11)
            if admitted + los <= tl.end:
                self.inpatient(tl, admitted, admitted + los, stay)

    def inpatient(self, tl: _Timeline, admitted: int, discharged: int | None,
                  stay: tuple[str, str, int, int, float, str, tuple[str, ...]], *, died: str | None = None) -> None:
        """A township hospital stay: home page, orders and (if discharged alive) the discharge summary."""
        rng = self.rng
        p = tl.p
        icd, dept, _, _, _, course, drugs = stay
        doctor = self.pick(self.doctors)
        t_in = self.at(admitted, rng.randrange(8 * 60, 20 * 60))
        t_out = died or (self.at(discharged, rng.randrange(9 * 60, 11 * 60)) if discharged else None)
        extra = [{"icd10": c} for c, y in (("I10", p.htn), ("E11.9", p.dm)) if y is not None and c != icd]
        outcome = "died" if died else "improved" if rng.random() < 0.8 else "cured"
        diagnoses = [{"icd10": icd, "primary": True, "outcome": outcome}, *extra]
        total = rng.uniform(1200, 5200) * (1 if not died else 1.5)
        data: dict[str, Any] = {
            "inpatient_number": f"ZY{dt.date.fromordinal(admitted).year}{self.next_serial():06d}",
            "admission_time": t_in, "admission_route": self.weighted(((0.8, "outpatient"), (0.15, "emergency"), (0.05, "transfer"))),
            "department": dept, "ward": f"{dept}病区", "bed": f"{rng.randrange(1, 40):02d}床", "admitting_diagnosis": icd,
            "attending_doctor": doctor, "total_cost": f"{total:.2f}", "insurance_paid": f"{total * rng.uniform(0.6, 0.85):.2f}",
        }
        if t_out is not None:
            data["discharge_time"] = t_out
            data["discharge_diagnoses"] = diagnoses
            data["outcome"] = "died" if died else "routine"
        stay_key = tl.add(admitted, "inpatient_stay", data)
        ordered = self.at(admitted, _minutes(t_in) + 30)
        nursing = "儿科护理常规 二级护理" if dept == "儿科" else f"{dept}护理常规 二级护理"
        tl.add(admitted, "inpatient_order", {"ordered_at": ordered, "kind": "long_term", "content": nursing, "doctor": doctor},
               {"stay_id": stay_key})
        tl.add(admitted, "inpatient_order", {"ordered_at": ordered, "kind": "temporary", "content": "血常规、C反应蛋白、肝肾功能、心电图",
                                             "doctor": doctor}, {"stay_id": stay_key})
        for drug in drugs:
            dose, route, freq = _INPATIENT_RX[drug]
            info = self.town.drugs[drug]
            order: dict[str, Any] = {"ordered_at": ordered, "kind": "long_term", "content": f"{info['name']} {dose}{info['unit']} {route} {freq}",
                                     "drug": drug, "dose": dose, "dose_unit": info["unit"], "route": route, "frequency": freq,
                                     "doctor": doctor}
            if t_out is not None:
                order["stopped_at"] = t_out
                order["stopped_by"] = doctor
            tl.add(admitted, "inpatient_order", order, {"stay_id": stay_key})
        if discharged is None or died:
            return
        oral = [d for d in drugs if _INPATIENT_RX[d][1] == "po" and d in _RX]
        medication = [self.rx_item(d, p, discharged, days=7) for d in oral]
        medication += [self.rx_item(d, p, discharged) for d in p.regimen]
        summary: dict[str, Any] = {
            "admission_time": t_in, "discharge_time": t_out,
            "admission_condition": f"因{_STAY_REASONS.get(icd, '病情需要')}入院。",
            "course_in_hospital": course, "discharge_condition": "病情好转，生命体征平稳，饮食睡眠可。",
            "discharge_diagnoses": diagnoses, "follow_up_advice": "按时服药，注意休息，1周后门诊复诊，不适随诊。",
            "doctor": doctor,
        }
        if medication:
            summary["discharge_medication"] = medication
        tl.add(discharged, "discharge_summary", summary, {"stay_id": stay_key})

    def death(self, tl: _Timeline) -> None:
        rng = self.rng
        p = tl.p
        assert p.death is not None and p.death_cause is not None
        cause = p.death_cause
        day = p.death
        immediate, chain = _DEATH_CAUSES[cause]
        acute = cause in ("I63.9", "I61.9", "I21.9", "V89.2", "T75.1")
        place = (self.weighted(((0.35, "home"), (0.3, "en_route"), (0.35, "emergency"))) if acute
                 else self.weighted(((0.72, "home"), (0.2, "ward"), (0.05, "nursing_home"), (0.03, "other_institution"))))
        minutes = rng.randrange(0, 24 * 60)
        when = self.at(day, minutes)
        if place == "ward" and cause in ("J44.9", "J18.9", "I50.9", "N18.9", "R54", "W19"):
            admitted = day - rng.randrange(2, 9)
            if admitted >= tl.begin:
                icd = {"J44.9": "J44.1", "J18.9": "J18.9", "I50.9": "I50.9", "N18.9": "N18.9", "R54": "J18.9", "W19": "J18.9"}[cause]
                self.inpatient(tl, admitted, day, (icd, "内科", 0, 0, 0, "", ()), died=self.at(day, max(minutes, 12 * 60)))
                when = self.at(day, max(minutes, 12 * 60))
            else:
                place = "home"
        if cause.startswith("C") and day - 120 >= tl.begin and rng.random() < 0.7:
            seen = day - rng.randrange(120, 400)
            if seen >= tl.begin:
                what = {"C34.9": "咳嗽、痰中带血2月，胸片示左肺门肿块", "C15.9": "进行性吞咽困难2月",
                        "C16.9": "上腹痛、消瘦3月，黑便", "C22.0": "右上腹痛、消瘦，B超示肝占位"}[cause]
                out = self.referral_out(tl, seen, self.at(seen, self.clinic_time()), cause, f"{what}，疑恶性肿瘤", "urgent")
                if seen + 21 < day:
                    self.referral_back(tl, seen + rng.randrange(10, 21), out, cause, f"病理确诊为{chain[-1][0]}，已失去手术机会。",
                                       "姑息治疗及止痛，家属要求回家休养，请基层协助居家照护。")
        elif acute and cause.startswith("I") and place != "home" and rng.random() < 0.5:
            self.referral_out(tl, day, self.at(day, max(0, minutes - 60)), cause,
                              "突发胸痛、大汗，疑急性心肌梗死" if cause == "I21.9" else "突发意识障碍、肢体无力，疑急性脑血管病",
                              "emergency")
        certified = min(self.today, day + rng.randrange(0, 3))
        data: dict[str, Any] = {
            "death_time": when, "place": place, "immediate_cause": immediate,
            "causes_chain": [{k: v for k, v in (("description", d), ("icd10", i), ("interval", t)) if v} for d, i, t in chain],
            "underlying_cause": cause,
            "certifier": self.village_doctors[p.hh.village.code] if place == "home" else self.pick(self.doctors),
            "certificate_number": f"S{self.town.code}{dt.date.fromordinal(day).year % 100:02d}{self.next_serial():06d}",
            "certified_on": self.iso(certified),
        }
        others = [{"description": n, "icd10": c} for c, y, n in (("I10", p.htn, "高血压病"), ("E11.9", p.dm, "2型糖尿病"))
                  if y is not None and c not in {i for _, i, _ in chain}]
        if others:
            data["other_conditions"] = others
        tl.add(day, "death", data)

    # -- maternal and child care ----------------------------------------------------------------------

    def pregnancy(self, tl: _Timeline, lmp: int, delivered: int, twins: bool) -> None:
        """Registration, five prenatal visits, delivery (with the newborns as residents) and postpartum visits."""
        rng = self.rng
        w = tl.p
        registered = lmp + rng.randrange(8 * 7, 13 * 7)
        if registered > self.today or registered >= delivered:
            return
        age = w.age(registered)
        parity = len([c for c in w.children if c.born < lmp])
        risks = []
        if age >= 35:
            risks.append("高龄孕妇（≥35岁）")
        if parity and rng.random() < 0.3:
            risks.append("瘢痕子宫（既往剖宫产史）")
        hgb = rng.randrange(100, 132)
        if hgb < 110:
            risks.append("妊娠期贫血")
        sbp, dbp = rng.randrange(98, 128), rng.randrange(60, 82)
        doctor = self.pick(self.public_health)
        reg: dict[str, Any] = {
            "registered_on": self.iso(registered), "last_menstrual_period": self.iso(lmp),
            "expected_delivery_date": self.iso(lmp + 280), "gravidity": parity + 1 + (rng.random() < 0.25),
            "parity": parity, "high_risk_factors": risks, "doctor": doctor,
            "first_check": {"gestational_weeks": (registered - lmp) // 7, "weight_kg": round(w.weight, 1),
                            "height_cm": round(max(140.0, w.height), 1), "systolic": sbp, "diastolic": dbp, "hemoglobin": hgb,
                            "hbsag": "positive" if rng.random() < 0.05 else "negative", "syphilis": "negative",
                            "hiv": "negative", "findings": "心肺听诊未见异常，妇科检查未见异常。"},
        }
        if w.spouse is not None:
            reg["husband_name"] = w.spouse.name
        reg_key = tl.add(registered, "pregnancy_registration", reg)
        plan = [lmp + 7 * rng.randrange(lo, hi + 1) + rng.randrange(7) for lo, hi in _PRENATAL_WEEKS]
        plan = [d for d in plan if registered < d < delivered and d <= self.today]
        for i, day in enumerate(plan):
            weeks, days = divmod(day - lmp, 7)
            visit: dict[str, Any] = {
                "visit_date": self.iso(day), "gestational_weeks": weeks, "gestational_days": days,
                "weight_kg": round(w.weight + max(0, weeks - 12) * 0.45 + rng.uniform(-0.5, 0.5), 1),
                "systolic": rng.randrange(98, 130), "diastolic": rng.randrange(60, 84),
                "findings": "未见异常", "high_risk": bool(risks), "high_risk_factors": risks,
                "advice": ("补充叶酸，注意营养，按时产检" if weeks < 28 else "自数胎动，注意休息" if weeks < 37
                           else "做好分娩准备，如有规律宫缩、破水、阴道流血及时住院"),
                "next_visit_date": self.iso(plan[i + 1] if i + 1 < len(plan) else day + 7), "doctor": doctor,
            }
            if weeks >= 12:
                visit["fetal_heart_rate"] = rng.randrange(128, 158)
            if weeks >= 20:
                visit["fundal_height_cm"] = float(max(15, weeks - rng.randrange(0, 4)))
                visit["abdominal_circumference_cm"] = float(80 + (weeks - 20) + rng.randrange(0, 6))
            if i in (0, 3):
                visit["hemoglobin"] = rng.randrange(100, 130)
            tl.add(day, "prenatal_visit", visit, {"pregnancy_id": reg_key})
            if i == 1 and rng.random() < 0.7:
                image = self.image("fetus", w, day, weeks=weeks)
                for k in ("_item", "_price", "_order"):
                    image.pop(k)
                image["institution"] = "南部县妇幼保健院"
                image["examined_at"] = self.at(day, self.clinic_time())
                image["reported_at"] = image["examined_at"]
                tl.add(day, "imaging_report", image)
        if delivered > self.today:
            return
        self.delivery(tl, reg_key, lmp, delivered, twins)

    def delivery(self, tl: _Timeline, reg_key: str, lmp: int, delivered: int, twins: bool) -> None:
        rng = self.rng
        w = tl.p
        weeks = max(20, min(45, (delivered - lmp) // 7))
        mode = self.weighted(((0.58, "vaginal"), (0.38, "cesarean"), (0.02, "vacuum"), (0.02, "forceps")))
        if twins and mode == "vaginal":
            mode = "cesarean"
        place = self.weighted(((0.82, "hospital"), (0.14, "mch"), (0.04, "township")))
        place_name = {"hospital": "南部县人民医院", "mch": "南部县妇幼保健院", "township": self.town.clinic}[place]
        minutes = rng.randrange(0, 24 * 60)
        when = self.at(delivered, minutes)
        father = w.spouse
        newborns = []
        refs: dict[str, str] = {}
        midwife = self.pick(self.county_doctors)
        for order in range(1, 3 if twins else 2):
            sex = "1" if rng.random() < 0.53 else "2"
            base = 3250 if weeks >= 37 else 2300 - (37 - weeks) * 180
            weight_g = int(max(900, min(4600, rng.gauss(base - 500 * twins + 100 * (sex == "1"), 380))))
            length = round(max(35.0, min(56.0, 50 + (weight_g - 3300) / 250 + rng.gauss(0, 1))), 1)
            hh = w.hh
            rel = ("41" if sex == "1" else "42") if w.rel == "38" else ("20" if sex == "1" else "30")
            surname = father.surname if father is not None and father.surname else w.surname
            child = _Person(hh.next_key(), hh, sex, delivered, surname, self.given_name(sex, dt.date.fromordinal(delivered).year),
                            rel=rel, mother=w, father=father, newborn=True)
            child.ethnicity = w.ethnicity if w.ethnicity != "01" and rng.random() < 0.5 else (father.ethnicity if father else "01")
            self.profile(child)
            child.death = child.death_cause = None
            child.phone = w.phone or (father.phone if father else None)
            w.children.append(child)
            if father is not None:
                father.children.append(child)
            tl.add_resident(delivered, self.resident(child))
            apgar1 = rng.choice((8, 9, 9, 10, 10)) if weeks >= 36 else rng.choice((6, 7, 8))
            nb: dict[str, Any] = {"sex": sex, "outcome": "live", "weight_g": weight_g, "length_cm": length,
                                  "apgar_1min": apgar1, "apgar_5min": min(10, apgar1 + 1)}
            refs[f"newborns.{order - 1}.child_resident_id"] = child.key
            newborns.append(nb)
            child.birth_info = {
                "birth_time": when, "place": place, "place_name": place_name, "child_name": child.name, "sex": sex,
                "weight_g": weight_g, "length_cm": length, "gestational_weeks": weeks, "mother_name": w.name,
                "birth_certificate_number": f"{self.pick('NOPQR')}{510000000 + self.next_serial()}",
                "midwife": midwife,
            }
            if twins:
                child.birth_info["multiple_birth_order"] = order
            if w.id_number:
                child.birth_info["mother_id_number"] = w.id_number
            if father is not None:
                child.birth_info["father_name"] = father.name
            child.pregnancy_key = reg_key
        blood = rng.randrange(300, 650) if mode == "cesarean" else rng.randrange(120, 400)
        data: dict[str, Any] = {
            "delivery_time": when, "gestational_weeks": weeks, "mode": mode, "place": place, "place_name": place_name,
            "outcome": "good", "blood_loss_ml": blood, "newborns": newborns, "attended_by": midwife,
        }
        if blood >= 500 and mode == "vaginal":
            data["complications"] = "产后出血"
            data["outcome"] = "complication"
        tl.add(delivered, "delivery", data, {"pregnancy_id": reg_key, **refs})
        for offset in (rng.randrange(3, 8), rng.randrange(42, 50)):
            day = delivered + offset
            if day > tl.end:
                break
            abnormal = rng.random() < 0.05
            visit: dict[str, Any] = {
                "visit_date": self.iso(day), "days_after_delivery": offset,
                "temperature_c": round(rng.uniform(36.3, 37.2), 1), "systolic": rng.randrange(100, 130),
                "diastolic": rng.randrange(62, 84), "general_health": "一般情况良好，饮食睡眠可",
                "mental_state": {"status": "normal"},
                "breast": {"status": "abnormal", "note": "左乳外上象限胀痛、可触及硬结，考虑乳汁淤积"} if abnormal else {"status": "normal"},
                "lochia": {"status": "normal", "note": "血性恶露，量少，无异味" if offset < 10 else "恶露已净"},
                "uterus": {"status": "normal"},
                "classification": "abnormal" if abnormal else "normal",
                "advice": "指导母乳喂养及产褥期卫生，注意营养，42天后复查" if offset < 10 else "产后恢复良好，落实避孕措施",
                "doctor": self.pick(self.public_health),
            }
            if mode == "cesarean":
                visit["wound"] = {"status": "normal", "note": "腹部切口愈合良好"}
            tl.add(day, "postpartum_visit", visit, {"pregnancy_id": reg_key})

    def newborn_records(self, tl: _Timeline) -> None:
        """A child born during the period: the birth record and the home visit in the first week."""
        rng = self.rng
        c = tl.p
        assert c.mother is not None and c.birth_info is not None and c.pregnancy_key is not None
        tl.add(c.born, "birth", dict(c.birth_info), {"mother_id": c.mother.key, "pregnancy_id": c.pregnancy_key})
        day = c.born + rng.randrange(3, 8)
        if day > tl.end:
            return
        days_old = day - c.born
        birth_g = c.birth_info["weight_g"]
        data: dict[str, Any] = {
            "visit_date": self.iso(day), "days_old": days_old, "birth_weight_g": birth_g,
            "weight_g": int(birth_g * rng.uniform(0.93, 1.02)), "temperature_c": round(rng.uniform(36.4, 37.2), 1),
            "feeding": self.weighted(((0.6, "breast"), (0.3, "mixed"), (0.1, "formula"))),
            "jaundice": self.weighted(((0.45, "none"), (0.4, "face"), (0.15, "trunk"))),
            "umbilical_cord": "separated" if days_old >= 7 and rng.random() < 0.5 else "attached",
            "findings": "一般情况好，哭声响亮，前囟平软，心肺未见异常，脐部干燥",
            "advice": "坚持母乳喂养，注意保暖，按时接种疫苗，满月时到卫生院健康检查",
            "next_visit_date": self.iso(c.born + 28 + rng.randrange(0, 5)), "doctor": self.pick(self.public_health),
        }
        tl.add(day, "newborn_visit", data, {"pregnancy_id": c.pregnancy_key})

    def child_health(self, tl: _Timeline) -> None:
        """Well-child checks and the national immunisation schedule for the under-sevens."""
        rng = self.rng
        c = tl.p
        if c.newborn:
            self.newborn_records(tl)
        due = [(c.born + round(m * 30.44) + rng.randrange(0, 12), m) for m in _CHECK_MONTHS]
        for i, (day, months) in enumerate(due):
            if not tl.begin <= day <= tl.end or rng.random() > 0.93:
                continue
            weight, height, head = self.growth(c.sex, months)
            z = c.z + rng.gauss(0, 0.15)
            evaluation = "high" if z > 2 else "low" if z < -2 else "normal"
            data: dict[str, Any] = {
                "check_date": self.iso(day), "age_months": months,
                "weight_kg": round(weight * (1 + 0.11 * z), 1), "height_cm": round(height * (1 + 0.035 * z), 1),
                "weight_for_age": evaluation, "height_for_age": evaluation, "weight_for_height": "normal",
                "development_passed": rng.random() > 0.02, "findings": "未见异常",
                "advice": "合理喂养，按时添加辅食，预防意外伤害" if months < 24 else "均衡膳食，户外活动，保护视力及口腔卫生",
                "doctor": self.pick(self.public_health),
            }
            if months <= 36:
                data["head_circumference_cm"] = round(head * (1 + 0.03 * z), 1)
            if months in (6, 12, 24, 36):
                hgb = rng.randrange(102, 135)
                data["hemoglobin"] = hgb
                if hgb < 110:
                    data["findings"] = "轻度贫血"
                    data["advice"] = "补充含铁丰富的食物，如动物肝脏、红肉，1-3月后复查血红蛋白"
            if i + 1 < len(due):
                data["next_check_date"] = self.iso(max(due[i + 1][0], day + 1))
            tl.add(day, "child_check", data)
        given: list[tuple[int, int]] = []
        for j, (vaccine, dose, age_days, route, site, maker) in enumerate(_SCHEDULE):
            day = c.born + age_days + (0 if age_days == 0 else rng.randrange(0, 10))
            if not tl.begin <= day <= tl.end or (age_days and rng.random() > 0.97):
                continue
            given.append((day, j))
        for day, j in given:
            vaccine, dose, age_days, route, site, maker = _SCHEDULE[j]
            at_birth = age_days == 0
            minutes = rng.randrange(8 * 60, 16 * 60) if not at_birth else _minutes(c.birth_info["birth_time"]) + 120 if c.birth_info else 600
            data = {
                "given_at": self.at(day, minutes), "vaccine": vaccine, "dose_number": dose, "lot_number": self.lot(day),
                "manufacturer": maker, "site": site, "route": route,
                "administered_by": self.pick(self.county_doctors if at_birth else self.nurses),
            }
            later = [c.born + a for _, _, a, *_ in _SCHEDULE[j + 1:] if c.born + a > day]
            if later:
                data["next_due_on"] = self.iso(min(later))
            tl.add(day, "immunization", data)


# --- small tables and helpers used above ----------------------------------------------------------

_COUNTY_HOSPITAL = "H511321001"  # 南部县人民医院
_PRENATAL_WEEKS = ((16, 20), (21, 24), (28, 30), (33, 36), (37, 40))
_TIMES = {"qd": 1, "bid": 2, "tid": 3, "qid": 4, "q6h": 4, "q8h": 3, "q12h": 2, "qn": 1, "qod": 0.5, "qw": 1 / 7,
          "biw": 2 / 7, "prn": 2, "st": 1}
_SELF_CARE: dict[str, tuple[int, ...]] = {
    "eating": (0, 3, 5), "grooming": (0, 1, 3, 7), "dressing": (0, 3, 5), "toileting": (0, 1, 5, 10),
    "activity": (0, 1, 5, 10),
}
_STAY_REASONS = {
    "J18.9": "发热、咳嗽、咳痰3天", "J44.1": "反复咳嗽咳痰10余年，气喘加重3天", "I69.3": "脑梗死后左侧肢体活动不利2月",
    "I25.1": "反复活动后胸闷1月，加重2天", "K29.1": "上腹痛伴呕吐1天", "M51.2": "腰痛伴右下肢放射痛2周",
    "J18.0": "发热、咳嗽3天", "A09": "腹泻伴呕吐1天", "I50.9": "气促、双下肢水肿加重1周", "N18.9": "乏力、纳差、水肿2周",
}
_TB_DX = _Dx("R05", (15, 99), 0, "flat", 0.6, "", "", "右上肺呼吸音稍低，未闻及明显干湿啰音。",
             (("compound_licorice_tab",),), imaging=("tb", 1.0), lab=("cbc", 0.8), infection="viral",
             advice="佩戴口罩，开窗通风，已转县结核病定点医院进一步检查。")


def _minutes(when: str) -> int:
    return int(when[11:13]) * 60 + int(when[14:16])


def _half(x: float) -> str:
    return _num(round(x * 2) / 2)


def _num(x: float) -> str:
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _lab(code: str, name: str, value: float, unit: str | None, ref: tuple[float | None, float | None],
         digits: int) -> dict[str, Any]:
    """A numeric lab item with its reference range and the flag the range implies."""
    v = round(value, digits) if digits else float(round(value))
    low, high = ref
    item: dict[str, Any] = {"code": code, "name": name, "value": v}
    if unit:
        item["unit"] = unit
    if low is not None:
        item["reference_low"] = float(low)
    if high is not None:
        item["reference_high"] = float(high)
    if low is None and high is not None:
        item["reference_range"] = f"<{high}"
    elif high is None and low is not None:
        item["reference_range"] = f">{low}"
    item["abnormal"] = "H" if high is not None and v > high else "L" if low is not None and v < low else "N"
    return item
