"""Outpatient conditions: who gets them, in which season, and what a township doctor does about them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AGE_BANDS", "DX", "SEASONS", "Dx"]

# Relative monthly incidence (January first) of a condition's season.
# fmt: off
SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 12, "winter": (2.0, 1.8, 1.3, 1.0, 0.7, 0.5, 0.5, 0.5, 0.7, 1.0, 1.4, 1.9),
    "flu": (3.0, 2.4, 1.0, 0.4, 0.2, 0.1, 0.2, 0.2, 0.2, 0.4, 1.2, 2.6),
    "summer": (0.4, 0.4, 0.6, 0.8, 1.3, 1.9, 2.2, 2.1, 1.4, 0.8, 0.5, 0.4),
    "spring": (0.5, 0.5, 1.2, 1.8, 2.0, 1.6, 1.0, 0.7, 0.6, 0.6, 0.5, 0.5),
    "autumn": (1.8, 1.2, 0.6, 0.4, 0.3, 0.3, 0.3, 0.4, 0.8, 1.6, 2.2, 2.2),
    "farm": (0.6, 0.6, 0.9, 1.2, 1.6, 1.5, 1.0, 1.1, 1.4, 1.3, 0.8, 0.6),
    "heat": (0.0, 0.0, 0.0, 0.1, 0.6, 2.0, 4.0, 4.0, 1.0, 0.1, 0.0, 0.0),
}
# fmt: on


@dataclass(frozen=True)
class Dx:
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


# fmt: off
DX: tuple[Dx, ...] = (
    Dx(
        "J06.9", (0, 99), 12, "winter", 0.5, "咳嗽、流涕{n}天",
        "{n}天前受凉后出现咳嗽、流涕、咽部不适，{fever}无胸痛、气促。",
        "咽部充血，扁桃体无肿大，双肺呼吸音清，未闻及干湿啰音。",
        (
            ("ganmao_qingre_granule", "paracetamol_500mg_tab"),
            ("lianhua_qingwen_cap", "paracetamol_500mg_tab"),
            ("banlangen_granule", "compound_licorice_tab"),
        ),
        (
            ("paracetamol_oral_susp", "xiaochaihu_granule"),
            ("ibuprofen_oral_susp", "shuanghuanglian_oral_liquid"),
        ),
        lab=("cbc", 0.15), infection="viral",
    ),
    Dx(
        "J00", (0, 99), 5, "winter", 0.15, "鼻塞、流涕、打喷嚏{n}天",
        "{n}天前受凉后鼻塞、流清涕，{fever}无咳痰。", "鼻黏膜充血，咽稍红，双肺呼吸音清。",
        (("ganmao_qingre_granule",), ("chlorphenamine_4mg_tab", "vitamin_c_100mg_tab")),
        (("xiaochaihu_granule",),), infection="viral",
    ),
    Dx(
        "J02.9", (5, 99), 4, "winter", 0.2, "咽痛{n}天", "{n}天前出现咽痛，吞咽时加重，{fever}无声嘶。",
        "咽部充血明显，咽后壁淋巴滤泡增生，扁桃体无肿大。",
        (("pudilan_xiaoyan_tab",), ("yinqiao_jiedu_tab", "niuhuang_jiedu_tab")),
        (("pudilan_xiaoyan_tab",),), infection="viral",
    ),
    Dx(
        "J03.9", (3, 45), 3, "winter", 0.85, "发热、咽痛{n}天",
        "{n}天前出现咽痛，{fever}吞咽困难，无咳嗽。", "咽部充血，双侧扁桃体Ⅱ度肿大，表面可见脓性分泌物。",
        (
            ("amoxicillin_250mg_cap", "paracetamol_500mg_tab", "pudilan_xiaoyan_tab"),
            ("cefuroxime_axetil_250mg_tab", "paracetamol_500mg_tab"),
        ),
        (("amoxicillin_125mg_granule", "ibuprofen_oral_susp"),), lab=("cbc", 0.6), infection="bacterial",
    ),
    Dx(
        "J20.9", (0, 99), 6, "winter", 0.3, "咳嗽、咳痰{n}天",
        "{n}天前受凉后出现咳嗽，咳少量白色黏痰，{fever}无咯血、胸痛。",
        "咽部充血，双肺呼吸音粗，可闻及散在干啰音。",
        (
            ("amoxicillin_clavulanate_375mg_tab", "ambroxol_30mg_tab"),
            ("azithromycin_250mg_tab", "jizhi_syrup"), ("ambroxol_30mg_tab", "qiangli_pipa_lu"),
        ),
        (("ambroxol_oral_solution", "azithromycin_100mg_granule"),), lab=("cbc", 0.4),
        imaging=("chest", 0.35), infection="bacterial", span=(3, 10),
    ),
    Dx(
        "J18.9", (50, 99), 1.2, "winter", 0.9, "发热、咳嗽、咳痰{n}天",
        "{n}天前出现咳嗽、咳黄痰，{fever}伴乏力、纳差。", "右下肺呼吸音减低，可闻及湿啰音。",
        (
            ("ceftriaxone_1g_inj", "nacl_0_9pct_100ml", "ambroxol_30mg_tab"),
            ("levofloxacin_500mg_inj", "ambroxol_30mg_tab"),
        ),
        lab=("cbc", 0.9), imaging=("pneumonia", 0.9), infection="bacterial", span=(2, 7),
        advice="按时用药，注意休息；3天后复诊，如高热不退、气促加重立即就诊或转上级医院。",
    ),
    Dx(
        "J18.0", (0, 6), 1.5, "winter", 0.9, "发热、咳嗽{n}天",
        "{n}天前出现咳嗽，有痰不易咳出，{fever}精神欠佳。", "双肺呼吸音粗，可闻及中细湿啰音。", (),
        (("azithromycin_100mg_granule", "ambroxol_oral_solution", "ibuprofen_oral_susp"),),
        lab=("cbc", 0.9), imaging=("pneumonia", 0.8), infection="bacterial", dept="儿科", span=(2, 5),
    ),
    Dx(
        "J11.1", (0, 99), 2.5, "flu", 1.0, "高热、头痛、全身酸痛{n}天",
        "{n}天前突起发热，{fever}伴头痛、全身肌肉酸痛、乏力，家中有类似病人。",
        "急性热病容，咽部充血，双肺呼吸音清。",
        (
            ("oseltamivir_75mg_cap", "paracetamol_500mg_tab"),
            ("lianhua_qingwen_cap", "paracetamol_500mg_tab"),
        ),
        (("ibuprofen_oral_susp", "xiaochaihu_granule"),), lab=("cbc", 0.3), infection="viral", span=(1, 3),
    ),
    Dx(
        "J21.9", (0, 1), 2, "winter", 0.4, "咳嗽、喘息{n}天", "{n}天前出现咳嗽、喘息，{fever}吃奶尚可。",
        "呼吸稍促，双肺可闻及哮鸣音及少许湿啰音。", (), (("ambroxol_oral_solution",),),
        imaging=("chest", 0.3), dept="儿科", infection="viral",
    ),
    Dx(
        "B08.4", (1, 5), 2, "spring", 0.7, "发热、手足皮疹{n}天",
        "{n}天前出现手、足皮疹，{fever}伴口腔疼痛、流涎。",
        "手、足、臀部见散在斑丘疹、疱疹，口腔黏膜可见疱疹。", (),
        (("ibuprofen_oral_susp", "shuanghuanglian_oral_liquid"),), dept="儿科", span=(1, 3),
        advice="居家隔离2周，勤洗手，餐具消毒；如出现精神差、呕吐、肢体抖动立即就诊。", infection="viral",
    ),
    Dx(
        "B08.5", (1, 6), 1.5, "summer", 0.9, "发热、咽痛、拒食{n}天",
        "{n}天前出现咽痛、拒食，{fever}无皮疹。", "咽部充血，咽峡部可见数个疱疹及溃疡。", (),
        (("ibuprofen_oral_susp", "shuanghuanglian_oral_liquid"),), dept="儿科", span=(1, 3),
        infection="viral",
    ),
    Dx(
        "A09", (0, 99), 5, "summer", 0.2, "腹泻{n}天",
        "{n}天前进食不洁食物后出现腹泻，每日4-6次稀水样便，{fever}无黏液脓血便。",
        "腹软，脐周轻压痛，无反跳痛，肠鸣音活跃。",
        (
            ("montmorillonite_3g_powder", "norfloxacin_100mg_cap"),
            ("montmorillonite_3g_powder", "bifidobacterium_triple_cap", "ors_iii_powder"),
        ),
        (
            ("montmorillonite_3g_powder", "ors_iii_powder"),
            ("montmorillonite_3g_powder", "bifidobacterium_triple_cap"),
        ),
        lab=("cbc", 0.2), span=(1, 3),
        advice="注意饮食卫生，少量多次口服补液；如尿少、精神差、便血及时就诊。",
    ),
    Dx(
        "A08.0", (0, 3), 2, "autumn", 0.5, "呕吐、腹泻{n}天",
        "{n}天前出现呕吐，继之腹泻，蛋花汤样便每日5-8次，{fever}尿量稍少。",
        "精神稍差，前囟稍凹陷，腹软，肠鸣音活跃。", (), (("montmorillonite_3g_powder", "ors_iii_powder"),),
        dept="儿科", span=(1, 3), infection="viral",
        advice="口服补液盐少量多次喂服，继续母乳喂养；如尿少、嗜睡立即就诊。",
    ),
    Dx(
        "K29.7", (16, 99), 4, "flat", 0.0, "上腹部隐痛、反酸{n}周",
        "{n}周来反复上腹部隐痛，进食后加重，伴反酸、嗳气。", "上腹部轻压痛，无反跳痛，墨菲征阴性。",
        (
            ("omeprazole_20mg_cap", "hydrotalcite_500mg_tab"),
            ("omeprazole_20mg_cap", "domperidone_10mg_tab"),
            ("xiangsha_yangwei_pill", "famotidine_20mg_tab"),
        ),
        imaging=("abdomen", 0.15), unit="周", span=(1, 8),
        advice="规律饮食，忌辛辣、烟酒、浓茶；症状反复建议上级医院胃镜检查。",
    ),
    Dx(
        "K29.1", (16, 80), 1.5, "summer", 0.1, "恶心、呕吐、上腹痛{n}天",
        "{n}天前饮酒后出现上腹痛，伴恶心、呕吐胃内容物，{fever}", "上腹部压痛，无反跳痛及肌紧张。",
        (("omeprazole_20mg_cap", "domperidone_10mg_tab"),), span=(1, 2),
    ),
    Dx(
        "K30", (18, 99), 1.5, "flat", 0.0, "饭后饱胀、嗳气{n}周",
        "{n}周来饭后上腹饱胀、嗳气，无呕血、黑便，体重无明显变化。", "腹软，无压痛。",
        (("domperidone_10mg_tab", "xiangsha_yangwei_pill"),), unit="周", span=(2, 12),
    ),
    Dx(
        "K59.0", (60, 99), 1.5, "winter", 0.0, "排便困难{n}天", "{n}天未解大便，腹胀，平素大便干结。",
        "腹稍胀，左下腹可触及粪块，无压痛。", (("lactulose_oral_solution",), ("glycerol_enema_20ml",)),
        span=(3, 7),
    ),
    Dx(
        "M54.5", (25, 99), 4, "farm", 0.0, "腰痛{n}天",
        "{n}天前农活劳累后出现腰部酸痛，弯腰及久坐后加重，无下肢放射痛。",
        "腰部肌肉紧张，L4-5棘突旁压痛，直腿抬高试验阴性。",
        (
            ("diclofenac_sr_75mg_tab", "shexiang_zhuanggu_plaster"),
            ("meloxicam_7_5mg_tab", "diclofenac_emulgel"),
        ),
        imaging=("lspine", 0.15), span=(2, 20), advice="注意休息，避免弯腰负重，局部热敷。",
    ),
    Dx(
        "M17.9", (50, 99), 4, "winter", 0.0, "双膝关节疼痛{n}月",
        "{n}月来双膝关节疼痛，上下楼及下蹲时加重，休息后减轻。",
        "双膝关节无红肿，活动时可闻及骨擦音，浮髌试验阴性。",
        (
            ("meloxicam_7_5mg_tab", "diclofenac_emulgel"),
            ("shexiang_zhuanggu_plaster", "calcium_carbonate_d3_tab"),
        ),
        imaging=("knee", 0.2), unit="月", span=(1, 24), advice="减少爬坡、负重，适当减重，注意膝关节保暖。",
    ),
    Dx(
        "M75.0", (45, 75), 1.5, "winter", 0.0, "右肩疼痛、活动受限{n}月",
        "{n}月来右肩疼痛，夜间明显，梳头、穿衣困难。", "右肩关节外展、后伸受限，肩峰下压痛。",
        (("meloxicam_7_5mg_tab", "shexiang_zhuanggu_plaster"),), unit="月", span=(1, 6),
        advice="坚持爬墙等肩关节功能锻炼，局部热敷。",
    ),
    Dx(
        "M54.2", (30, 80), 1.5, "flat", 0.0, "颈部酸痛{n}天",
        "{n}天前低头劳作后颈部酸痛，转头受限，无上肢麻木。",
        "颈部肌肉紧张，C5-6棘突旁压痛，臂丛牵拉试验阴性。",
        (("diclofenac_emulgel", "shexiang_zhuanggu_plaster"),), span=(2, 14),
    ),
    Dx(
        "M10.9", (35, 85), 1, "summer", 0.1, "右足第一跖趾关节红肿疼痛{n}天",
        "{n}天前饮酒、进食海鲜后夜间突发右足第一跖趾关节红肿、剧痛，{fever}",
        "右足第一跖趾关节红肿，皮温高，压痛明显。", (("colchicine_0_5mg_tab", "diclofenac_sr_75mg_tab"),),
        sex="1", span=(1, 3), advice="多饮水，低嘌呤饮食，戒酒；缓解后复查血尿酸。",
    ),
    Dx(
        "R42", (50, 99), 2, "flat", 0.0, "头晕{n}天",
        "{n}天前出现头晕，改变体位时明显，无视物旋转，无肢体麻木无力。",
        "神志清，颈软，四肢肌力正常，病理征阴性，闭目难立征阴性。",
        (("betahistine_6mg_tab",), ("flunarizine_5mg_cap",)), imaging=("ecg", 0.3), span=(1, 7),
    ),
    Dx(
        "I25.1", (50, 99), 3, "winter", 0.0, "活动后胸闷{n}天",
        "{n}天来活动后胸闷，休息数分钟可缓解，无放射痛，无大汗。",
        "双肺呼吸音清，心率齐，各瓣膜听诊区未闻及病理性杂音。",
        (
            ("isosorbide_mononitrate_20mg_tab", "aspirin_ec_100mg_tab", "atorvastatin_20mg_tab"),
            ("compound_danshen_dripping_pill", "aspirin_ec_100mg_tab"),
        ),
        requires="chd", imaging=("ecg", 0.8), lab=("lipids", 0.3), span=(2, 14),
        advice="避免劳累、饱餐及受凉；胸痛持续超过15分钟不缓解立即拨打120。",
    ),
    Dx(
        "I10", (18, 99), 6, "flat", 0.0, "高血压复诊取药", "", "双肺呼吸音清，心率齐，双下肢无水肿。", (),
        requires="htn", lab=("lipids", 0.1), imaging=("ecg", 0.15),
        advice="低盐饮食，规律服药，每日监测血压。",
    ),
    Dx(
        "E11.9", (18, 99), 6, "flat", 0.0, "糖尿病复诊取药", "", "双下肢无水肿，足背动脉搏动可。", (),
        requires="dm", lab=("glucose", 0.6),
        advice="控制饮食，适量运动，规律服药，监测血糖，注意足部护理。",
    ),
    Dx(
        "J44.1", (40, 99), 4, "winter", 0.3, "咳嗽、咳痰、气喘加重{n}天",
        "慢性咳嗽、咳痰多年，{n}天前受凉后咳嗽加重，咳黄痰，活动后气喘，{fever}",
        "桶状胸，双肺呼吸音低，可闻及散在干湿啰音。",
        (
            ("budesonide_formoterol_160_inh", "ambroxol_30mg_tab", "amoxicillin_clavulanate_375mg_tab"),
            ("salbutamol_aerosol_100ug", "aminophylline_100mg_tab", "ambroxol_30mg_tab"),
        ),
        requires="copd", imaging=("copd", 0.5), lab=("cbc", 0.5), infection="bacterial", span=(2, 10),
        advice="戒烟，注意保暖，坚持规范吸入治疗；气喘明显加重、口唇发绀时立即就诊。",
    ),
    Dx(
        "E78.5", (35, 99), 1, "flat", 0.0, "体检发现血脂异常{n}周",
        "{n}周前体检发现血脂偏高，无胸闷、胸痛。", "心肺查体无异常。", (("atorvastatin_20mg_tab",),),
        requires="cardio", lab=("lipids", 1.0), unit="周", span=(1, 6),
        advice="低脂饮食，适量运动，4-6周后复查血脂及肝功能。",
    ),
    Dx(
        "L30.9", (0, 99), 2, "summer", 0.0, "皮肤瘙痒、红斑{n}天",
        "{n}天前双上肢出现红斑、丘疹，瘙痒明显，夜间加重。", "双前臂见对称分布红斑、丘疹，部分抓痕、结痂。",
        (
            ("hydrocortisone_butyrate_cream", "loratadine_10mg_tab"),
            ("compound_dexamethasone_cream", "calamine_lotion"),
        ),
        (("calamine_lotion",), ("hydrocortisone_butyrate_cream",)), span=(2, 14),
    ),
    Dx(
        "L50.9", (3, 99), 1.5, "spring", 0.0, "全身风团、瘙痒{n}天",
        "{n}天前无明显诱因全身出现风团，瘙痒，此起彼伏，无呼吸困难。",
        "躯干、四肢散在大小不等风团，皮肤划痕征阳性。",
        (("loratadine_10mg_tab", "calamine_lotion"), ("cetirizine_10mg_tab",)), (("calamine_lotion",),),
        span=(1, 5),
    ),
    Dx(
        "B35.3", (16, 80), 1, "summer", 0.0, "足趾间瘙痒、脱皮{n}周",
        "{n}周来双足趾间瘙痒、脱皮，夏季加重。", "双足第3-4趾间浸渍、脱屑。", (("terbinafine_cream",),),
        unit="周", span=(1, 8),
    ),
    Dx(
        "L74.0", (0, 6), 1, "heat", 0.0, "颈背部红色小丘疹{n}天",
        "{n}天前天气炎热后颈背部出现密集红色小丘疹，瘙痒。", "颈部、背部见密集针尖大小红色丘疹。", (),
        (("calamine_lotion",),), dept="儿科", span=(1, 4), advice="保持皮肤清洁干燥，衣着宽松，避免过热。",
    ),
    Dx(
        "H10.9", (3, 99), 1.5, "spring", 0.0, "双眼红、分泌物增多{n}天",
        "{n}天前出现双眼发红、异物感，晨起分泌物多。", "双眼结膜充血，可见少许黏性分泌物，角膜透明。",
        (("levofloxacin_eye_drops",), ("chloramphenicol_eye_drops",)), (("chloramphenicol_eye_drops",),),
        span=(1, 4), advice="勿用手揉眼，毛巾单独使用，按时滴眼。",
    ),
    Dx(
        "H66.9", (2, 12), 1, "winter", 0.5, "耳痛{n}天", "感冒后{n}天出现右耳痛，{fever}无耳道流脓。",
        "右耳鼓膜充血、内陷，标志不清。", (("amoxicillin_250mg_cap", "ofloxacin_ear_drops"),),
        (("amoxicillin_125mg_granule", "ofloxacin_ear_drops"),), infection="bacterial", span=(1, 4),
    ),
    Dx(
        "N39.0", (18, 90), 2, "summer", 0.1, "尿频、尿急、尿痛{n}天",
        "{n}天前出现尿频、尿急、尿痛，{fever}无肉眼血尿及腰痛。", "下腹部轻压痛，双肾区无叩痛。",
        (("levofloxacin_500mg_tab",), ("nitrofurantoin_50mg_tab",)), sex="2", lab=("urine", 0.8),
        span=(1, 4), advice="多饮水，勤排尿，注意个人卫生。",
    ),
    Dx(
        "N76.0", (20, 60), 1.5, "summer", 0.0, "白带增多、外阴瘙痒{n}天", "{n}天来白带增多，外阴瘙痒。",
        "外阴潮红，阴道内见较多白色分泌物。",
        (("metronidazole_200mg_tab", "clotrimazole_500mg_vag_tab"), ("clotrimazole_500mg_vag_tab",)),
        sex="2", dept="妇科", span=(3, 14),
    ),
    Dx(
        "N40", (55, 99), 2, "winter", 0.0, "夜尿增多、排尿不畅{n}月",
        "{n}月来夜尿3-4次，排尿费力、尿线变细，无肉眼血尿。", "下腹部无膨隆，双肾区无叩痛。",
        (("tamsulosin_0_2mg_cap",), ("finasteride_5mg_tab", "tamsulosin_0_2mg_cap")), sex="1",
        imaging=("urinary", 0.25), unit="月", span=(2, 24),
    ),
    Dx(
        "S61.0", (8, 75), 1.5, "farm", 0.0, "左手手指割伤{n}小时",
        "{n}小时前劳作时不慎被镰刀割伤左手示指，当即出血，自行压迫止血后来诊。",
        "左手示指掌侧见一长约2cm伤口，深及皮下，边缘整齐，活动性出血已止，末梢血运好。",
        (
            ("povidone_iodine_solution", "tetanus_antitoxin_1500iu_inj"),
            ("povidone_iodine_solution", "cefradine_250mg_cap"),
        ),
        (("povidone_iodine_solution", "tetanus_antitoxin_1500iu_inj"),), dept="外科", unit="小时",
        span=(1, 4), advice="伤口保持清洁干燥，隔日换药，7-10天拆线。",
    ),
    Dx(
        "S93.4", (8, 70), 1, "farm", 0.0, "右踝扭伤肿痛{n}小时",
        "{n}小时前下坡行走时扭伤右踝，局部肿痛，尚能跛行。",
        "右外踝肿胀，压痛，踝关节活动受限，足背动脉搏动好。", (("diclofenac_emulgel",),),
        (("diclofenac_emulgel",),), imaging=("ankle", 0.3), dept="外科", unit="小时", span=(2, 24),
        advice="抬高患肢，48小时内冷敷，之后热敷，减少行走。",
    ),
    Dx(
        "T63.4", (5, 80), 0.7, "summer", 0.0, "蜂蜇伤后局部红肿{n}小时",
        "{n}小时前在田间劳作时被蜂蜇伤右前臂，局部红肿疼痛，无胸闷、气促。",
        "右前臂见一蜇痕，周围红肿约3cm×3cm，无全身皮疹。", (("loratadine_10mg_tab", "calamine_lotion"),),
        (("calamine_lotion",),), unit="小时", span=(1, 6),
        advice="局部冷敷，如出现胸闷、气促、全身皮疹立即就诊。",
    ),
    Dx(
        "W54", (3, 80), 0.6, "farm", 0.0, "被狗咬伤{n}小时",
        "{n}小时前被邻居家犬咬伤左小腿，局部出血，犬只免疫情况不详。",
        "左小腿见2处齿痕，少量渗血，周围无明显红肿。", (("povidone_iodine_solution",),),
        (("povidone_iodine_solution",),), dept="外科", unit="小时", span=(1, 6),
        advice="伤口已冲洗消毒，按时完成狂犬病疫苗全程接种，观察犬只10天。",
    ),
    Dx(
        "K04.0", (12, 80), 1, "flat", 0.0, "牙痛{n}天", "{n}天来左下后牙自发性疼痛，夜间加重，冷热刺激痛。",
        "左下第一磨牙深龋，叩痛（+）。", (("metronidazole_200mg_tab", "ibuprofen_sr_300mg_cap"),),
        dept="口腔科", span=(1, 5), advice="建议口腔科进一步开髓治疗，保持口腔卫生。",
    ),
    Dx(
        "G47.0", (40, 99), 1, "flat", 0.0, "入睡困难{n}月",
        "{n}月来入睡困难，易醒，醒后难以再睡，白天乏力。", "神志清，对答切题，神经系统查体无异常。",
        (("estazolam_1mg_tab",),), unit="月", span=(1, 12),
        advice="规律作息，睡前避免饮茶及看手机，短期服药，不可自行加量。",
    ),
    Dx(
        "B02.9", (40, 99), 1, "flat", 0.0, "右侧胸背部疼痛伴水疱{n}天",
        "{n}天前右侧胸背部烧灼样疼痛，继之出现簇状水疱。",
        "右侧胸背部沿肋间神经分布簇集性水疱，基底潮红，未过中线。",
        (("acyclovir_200mg_tab", "mecobalamin_0_5mg_tab"),), span=(1, 5),
    ),
    Dx(
        "D50.9", (15, 50), 0.8, "flat", 0.0, "头晕、乏力{n}月",
        "{n}月来头晕、乏力，活动后心慌，月经量偏多。", "面色及睑结膜苍白，心率稍快，律齐。",
        (("ferrous_succinate_100mg_tab", "vitamin_c_100mg_tab"),), sex="2", lab=("anemia", 1.0), unit="月",
        span=(1, 6), advice="多进食红肉、动物肝脏，1月后复查血常规。",
    ),
    Dx(
        "R51", (15, 70), 1, "flat", 0.0, "头痛{n}天",
        "{n}天前劳累后出现双颞部胀痛，无恶心呕吐，无肢体麻木。", "神志清，颈软，神经系统查体未见异常。",
        (("ibuprofen_sr_300mg_cap",),), span=(1, 4),
    ),
    Dx(
        "T67.0", (15, 80), 0.5, "heat", 0.6, "头晕、乏力、大汗{n}小时",
        "{n}小时前在高温下田间劳作后出现头晕、乏力、大汗、口渴，{fever}", "面色潮红，皮肤湿冷，神志清。",
        (("huoxiang_zhengqi_liquid", "ors_iii_powder"),), unit="小时", span=(1, 4),
        advice="避免高温时段劳作，多饮淡盐水，出现意识改变立即就诊。",
    ),
)
# fmt: on
AGE_BANDS = (0, 3, 7, 12, 18, 45, 65, 200)  # outpatient tables are built per band, sex and month
