"""Data tables: names, drugs and regimens, allergens, vaccines, growth, deaths, referrals and stays.

Every code here comes from a code list; ``_town`` checks them all when a township is first loaded.
"""

from __future__ import annotations

import re

__all__ = [
    "ALLERGENS",
    "BETA_LACTAMS",
    "BETA_LACTAM_SWAP",
    "CHECK_MONTHS",
    "CHILD_SWAP",
    "CHRONIC",
    "DEATH_CAUSES",
    "DM_REGIMENS",
    "ERAS",
    "FEVER_DRUGS",
    "GROWTH",
    "HTN_REGIMENS",
    "INPATIENT_RX",
    "INSULINS",
    "PSYCH_REGIMENS",
    "REFERRALS",
    "RX",
    "SCHEDULE",
    "SMD_DIAGNOSES",
    "STAYS",
    "STREETS",
    "SURNAME_TABLE",
    "TIBETAN",
    "TUJIA_SURNAMES",
    "YI_GIVEN",
    "YI_SURNAMES",
]

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
SURNAME_TABLE: tuple[tuple[str, float], ...] = tuple(
    (m.group(1), float(m.group(2))) for m in re.finditer(r"(\D+?)(\d+)\s*", _SURNAMES.replace(" ", ""))
)

# fmt: off
# Given-name characters by birth decade and sex: (first characters, second characters, share of
# one-character names). Older generations share a generation character (字辈) among brothers.
ERAS: tuple[tuple[int, dict[str, tuple[str, str, float]]], ...] = (
    (
        1950,
        {
            "1": (
                     "德福贵富明国成树文友志永发全清荣顺海长云光正才学宗金玉开绍世",
                     "明华成林清山才贵富发全荣顺海云光福寿昌财金堂生元田", 0.05,
                 ),
            "2": ("秀玉桂淑素翠凤春金银兰碧琼菊", "英兰芳珍凤华芝莲清贞香蓉秀", 0.05),
        },
    ),
    (
        1965,
        {
            "1": ("建国军红卫志永明德光文学正长春忠泽朝天洪", "国华明军平民强林忠祥兵东生安发成福", 0.08),
            "2": ("秀玉淑素桂春翠红凤建小", "英兰芳珍华琼群蓉清梅萍霞芝凤", 0.08),
        },
    ),
    (
        1980,
        {
            "1": ("建志晓小红海永文明国春德军卫宏", "军平勇华兵明刚斌林强波伟东涛辉", 0.2),
            "2": ("晓小丽红秀春海玉美燕", "红霞丽梅燕萍芳琴英玲华琼蓉莉", 0.2),
        },
    ),
    (
        1995,
        {
            "1": ("小晓俊建志文海宏永明家", "伟杰涛磊鹏浩斌超俊波亮强飞军勇林辉龙", 0.3),
            "2": ("小晓丽春秀美海雪", "丽娟婷静敏艳莉倩雪丹燕玲霞琴慧芳", 0.3),
        },
    ),
    (
        2010,
        {
            "1": ("子浩宇俊家志明文嘉佳思", "杰涛鹏浩宇超俊磊鑫帅豪翔凯阳林涵", 0.15),
            "2": ("佳思欣雨雪晓梦诗婉紫", "婷静敏倩雪丹欣悦琳璐颖娇蕾洁怡琪", 0.15),
        },
    ),
    (
        9999,
        {
            "1": ("子梓浩宇俊一沐奕锦睿嘉皓", "轩宸辰睿涵铭泽宇豪杰航博然熙阳", 0.05),
            "2": ("梓欣雨一若诗佳可思语依紫", "涵萱汐诺欣怡琪悦彤馨瑶然妍菲", 0.05),
        },
    ),
)
# Yi (Nuosu) and Tibetan names are given whole, with their romanisation.
YI_SURNAMES = (
    ("吉克", "Jjike"), ("阿苦", "Axku"), ("沙马", "Shama"), ("俄木", "Womu"), ("曲比", "Qubi"),
    ("马海", "Mahxi"),
)
YI_GIVEN = {
    "1": (("拉且", "Lache"), ("日布", "Rybu"), ("木呷", "Muga"), ("尔古", "Ergu"), ("伍沙", "Vusha")),
    "2": (("阿依", "Ayi"), ("么呷", "Mogga"), ("伍呷", "Vuga"), ("阿果", "Aguo"), ("石哈", "Shyha")),
}
TIBETAN = {
    "1": (("扎西", "Tashi"), ("次仁", "Tsering"), ("多吉", "Dorje")),
    "2": (("卓玛", "Drolma"), ("拉姆", "Lhamo"), ("央金", "Yangchen")),
}
# fmt: on
TUJIA_SURNAMES = ("向", "田", "冉", "彭", "覃")
# fmt: off
STREETS = (
    "滨江路", "人民路", "正东街", "西河路", "新华街", "建设路", "解放路", "北门街", "火峰路", "大北街",
)
# fmt: on


# --- drugs and regimens ---------------------------------------------------------------------------

FEVER_DRUGS = frozenset({"paracetamol_500mg_tab", "paracetamol_oral_susp", "ibuprofen_oral_susp"})
# fmt: off
BETA_LACTAMS = frozenset(
    {
    "amoxicillin_250mg_cap", "amoxicillin_125mg_granule", "amoxicillin_clavulanate_375mg_tab",
    "penicillin_g_800k_inj", "benzathine_penicillin_1_2m_inj", "cefradine_250mg_cap", "cefalexin_250mg_cap",
    "cefuroxime_axetil_250mg_tab", "cefuroxime_750mg_inj", "ceftriaxone_1g_inj",
},
)
# fmt: on
BETA_LACTAM_SWAP = {
    "ceftriaxone_1g_inj": "levofloxacin_500mg_inj",
    "amoxicillin_125mg_granule": "azithromycin_100mg_granule",
}

# drug: (dose in the drug's own dose unit, route, frequency, days, units dispensed per dose;
#        0 = the pack is used up as a whole: a bottle, a tube, a bag of infusion)
RX: dict[str, tuple[str, str, str, int, float]] = {
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
CHRONIC: dict[str, tuple[str, str, str, float]] = {
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
# fmt: off
HTN_REGIMENS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (16, ("amlodipine_5mg_tab",)), (8, ("nifedipine_sr_20mg_tab",)), (5, ("felodipine_er_5mg_tab",)),
    (6, ("losartan_50mg_tab",)), (5, ("valsartan_80mg_cap",)), (5, ("irbesartan_150mg_tab",)),
    (3, ("telmisartan_40mg_tab",)), (4, ("enalapril_10mg_tab",)), (3, ("captopril_25mg_tab",)),
    (7, ("compound_reserpine_tab",)), (3, ("indapamide_sr_1_5mg_tab",)),
    (8, ("amlodipine_5mg_tab", "valsartan_80mg_cap")), (6, ("amlodipine_5mg_tab", "losartan_50mg_tab")),
    (3, ("nifedipine_sr_20mg_tab", "metoprolol_25mg_tab")),
    (3, ("irbesartan_150mg_tab", "hydrochlorothiazide_25mg_tab")),
)
DM_REGIMENS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (30, ("metformin_500mg_tab",)), (8, ("metformin_er_500mg_tab",)),
    (10, ("metformin_500mg_tab", "gliclazide_mr_30mg_tab")),
    (7, ("metformin_500mg_tab", "glimepiride_2mg_tab")), (8, ("metformin_500mg_tab", "acarbose_50mg_tab")),
    (5, ("glipizide_5mg_tab",)), (5, ("acarbose_50mg_tab",)),
)
INSULINS = (
    ("insulin_premix_30r_inj", "预混人胰岛素30R", "早{a}U 晚{b}U"),
    ("insulin_aspart_30_inj", "门冬胰岛素30", "早{a}U 晚{b}U"),
    ("insulin_glargine_300u_inj", "甘精胰岛素", "睡前{a}U"),
)
PSYCH_REGIMENS: dict[str, tuple[tuple[str, ...], ...]] = {
    "schizophrenia": (
                         ("risperidone_1mg_tab",), ("olanzapine_5mg_tab",), ("clozapine_25mg_tab",),
                         ("aripiprazole_5mg_tab",), ("risperidone_1mg_tab", "trihexyphenidyl_2mg_tab"),
                     ),
    "bipolar": (("sodium_valproate_200mg_tab",), ("lithium_carbonate_250mg_tab", "olanzapine_5mg_tab")),
    "other": (("risperidone_1mg_tab",), ("olanzapine_5mg_tab",)),
}
SMD_DIAGNOSES = (
    ("F20.0", "schizophrenia", 3), ("F20.9", "schizophrenia", 8), ("F20.3", "schizophrenia", 2),
    ("F31.9", "bipolar", 2), ("F25.9", "other", 1), ("F22.0", "other", 1), ("F06.2", "other", 0.5),
    ("F72.1", "other", 0.5),
)
# fmt: on

# Adult oral / paediatric preparations replace adult ones for children under 12.
CHILD_SWAP = {
    "paracetamol_500mg_tab": "paracetamol_oral_susp",
    "amoxicillin_250mg_cap": "amoxicillin_125mg_granule",
    "azithromycin_250mg_tab": "azithromycin_100mg_granule",
    "ambroxol_30mg_tab": "ambroxol_oral_solution",
}


# --- vaccines, growth, deaths, referrals and stays -------------------------------------------------

# fmt: off
ALLERGENS: tuple[tuple[float, str, str, str | None, str, str], ...] = (
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
SCHEDULE: tuple[tuple[str, int, int, str, str, str], ...] = (
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
# fmt: on
CHECK_MONTHS = (1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72)
# fmt: off
# WHO growth medians (boys, girls) by month: weight kg, length/height cm, head circumference cm.
GROWTH: tuple[tuple[int, float, float, float, float, float, float], ...] = (
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
DEATH_CAUSES: dict[str, tuple[str, tuple[tuple[str, str | None, str], ...]]] = {
    "I63.9": (
                 "脑疝",
                 (("脑疝", None, "1天"), ("大面积脑梗死", "I63.9", "5天"), ("高血压病", "I10", "15年")),
             ),
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
    "W19": (
               "股骨颈骨折后坠积性肺炎",
               (("坠积性肺炎", "J18.9", "10天"), ("股骨颈骨折", "S72.0", "2月"), ("跌倒", "W19", "2月")),
           ),
}

# Referrals out to the county hospital, and what comes back:
# (icd10, reason, urgency, minimum age, result, treatment).
REFERRALS: tuple[tuple[str, str, str, int, str, str], ...] = (
    (
        "I20.0", "反复胸闷胸痛，心电图ST段压低，疑不稳定型心绞痛", "urgent", 50,
        "冠脉造影示前降支近段狭窄约75%，植入支架1枚，术后恢复好。",
        "阿司匹林联合氯吡格雷双联抗血小板12月，阿托伐他汀，美托洛尔。",
    ),
    (
        "S72.0", "跌倒后右髋疼痛、不能站立，疑股骨颈骨折", "emergency", 65,
        "右股骨颈骨折，行人工股骨头置换术，术后恢复可。", "术后康复锻炼，防跌倒，补钙。",
    ),
    (
        "K81.0", "右上腹痛伴发热2天，B超示胆囊结石伴胆囊炎", "urgent", 30,
        "急性结石性胆囊炎，行腹腔镜胆囊切除术，术后恢复好。", "低脂饮食，1月后门诊复查。",
    ),
    (
        "N20.0", "反复左腰部绞痛，B超示左肾结石伴轻度积水", "routine", 25,
        "左肾结石，行体外冲击波碎石术，复查结石已排出。", "多饮水，定期复查泌尿系B超。",
    ),
    (
        "H25.9", "双眼视物模糊逐渐加重2年，视力下降明显", "routine", 60,
        "右眼老年性白内障，行超声乳化白内障吸除联合人工晶体植入术，术后视力0.8。",
        "术后滴眼液按医嘱使用，1月后复查。",
    ),
    (
        "I10", "高血压联合用药后血压仍≥180/110mmHg", "urgent", 40,
        "排除继发性高血压，调整降压方案为氨氯地平联合缬沙坦，住院期间血压控制达标。",
        "继续联合降压治疗，社区每月随访血压。",
    ),
    (
        "E11.9", "口服降糖药规律治疗下空腹血糖仍>13mmol/L", "routine", 40,
        "2型糖尿病血糖控制差，启用预混胰岛素治疗，血糖控制平稳后出院。",
        "预混胰岛素早晚皮下注射，监测血糖，社区随访。",
    ),
    (
        "K35.8", "转移性右下腹痛12小时，麦氏点压痛、反跳痛", "emergency", 10,
        "急性化脓性阑尾炎，行腹腔镜阑尾切除术，术后恢复好。", "伤口7天拆线，1月内避免剧烈活动。",
    ),
    (
        "N63", "体检发现左乳肿块，约1.5cm×1.0cm", "routine", 30, "左乳肿块空芯针穿刺病理：纤维腺瘤，良性。",
        "定期乳腺B超复查。",
    ),
)

# Township hospital admissions: (icd10, department, min age, max age, weight, course, orders).
STAYS: tuple[tuple[str, str, int, int, float, str, tuple[str, ...]], ...] = (
    (
        "J18.9", "内科", 50, 99, 4,
        "入院后予头孢曲松抗感染、氨溴索化痰等治疗，体温渐降至正常，咳嗽咳痰明显减轻。",
        ("ceftriaxone_1g_inj", "ambroxol_30mg_tab"),
    ),
    (
        "J44.1", "内科", 50, 99, 3,
        "入院后予抗感染、解痉平喘、化痰及低流量吸氧治疗，气喘缓解，肺部啰音减少。",
        ("levofloxacin_500mg_inj", "aminophylline_100mg_tab", "ambroxol_30mg_tab"),
    ),
    (
        "I69.3", "内科", 55, 99, 2,
        "予改善循环、抗血小板、调脂稳定斑块及针灸、肢体康复训练，肢体肌力较入院时改善。",
        ("aspirin_ec_100mg_tab", "atorvastatin_20mg_tab"),
    ),
    (
        "I25.1", "内科", 55, 99, 2, "予抗血小板、调脂、扩冠等治疗，胸闷症状缓解，未再发作。",
        ("aspirin_ec_100mg_tab", "isosorbide_mononitrate_20mg_tab", "atorvastatin_20mg_tab"),
    ),
    (
        "K29.1", "内科", 16, 80, 2, "予禁食、抑酸护胃、补液等治疗，腹痛、呕吐缓解，已恢复进食。",
        ("omeprazole_40mg_inj", "glucose_nacl_500ml"),
    ),
    (
        "M51.2", "中医科", 30, 80, 2, "予针灸、推拿、中药熏蒸及腰椎牵引等综合治疗，腰腿痛明显减轻。",
        ("meloxicam_7_5mg_tab",),
    ),
    (
        "J18.0", "儿科", 0, 6, 3,
        "入院后予阿奇霉素抗感染、雾化、化痰治疗，体温正常，咳嗽减轻，肺部啰音消失。",
        ("azithromycin_500mg_inj",),
    ),
    (
        "A09", "内科", 16, 90, 1.5, "予补液、止泻、调节肠道菌群治疗，腹泻停止，电解质正常。",
        ("glucose_nacl_500ml", "montmorillonite_3g_powder"),
    ),
)
# fmt: on
# Inpatient drug orders: drug -> (dose, route, frequency).
INPATIENT_RX: dict[str, tuple[str, str, str]] = {
    "ceftriaxone_1g_inj": ("2", "ivgtt", "qd"),
    "levofloxacin_500mg_inj": ("0.5", "ivgtt", "qd"),
    "azithromycin_500mg_inj": ("0.1", "ivgtt", "qd"),
    "omeprazole_40mg_inj": ("40", "ivgtt", "qd"),
    "glucose_nacl_500ml": ("500", "ivgtt", "qd"),
    "ambroxol_30mg_tab": ("30", "po", "tid"),
    "aminophylline_100mg_tab": ("0.1", "po", "tid"),
    "aspirin_ec_100mg_tab": ("100", "po", "qd"),
    "atorvastatin_20mg_tab": ("20", "po", "qn"),
    "isosorbide_mononitrate_20mg_tab": ("20", "po", "bid"),
    "meloxicam_7_5mg_tab": ("7.5", "po", "qd"),
    "montmorillonite_3g_powder": ("1", "po", "tid"),
}
