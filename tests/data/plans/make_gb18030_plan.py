"""Build hebei-2025-jobs-points.txt: a GB18030-encoded plan copied from a PDF.

Run from the repository root: .venv/bin/python tests/data/plans/make_gb18030_plan.py
The text below is written by hand; the script only lays it out the way a PDF copy does
(lines broken every 23 characters in the middle of words, a blank line after each line,
page breaks with a page number "— N —") and encodes it as GB18030. Tasks are numbered
（1）（2）… restarting in each section, and one section lists its tasks as 一是…二是…三是….
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

PARAGRAPHS = [
    "河北省人民政府办公厅关于印发河北省2025年就业创业工作要点的通知",
    "冀政办字〔2025〕18 号",
    "各市（含定州、辛集市）人民政府，雄安新区管委会，省政府各部门：",
    "现将《河北省2025年就业创业工作要点》印发给你们，请结合实际认真贯彻落实。",
    "河北省人民政府办公厅",
    "2025 年 3 月 20 日",
    "（此件公开发布）",
    "河北省2025年就业创业工作要点",
    "2025 年全省就业创业工作的总体要求是：坚持就业优先战略，着力稳定和扩大就业，推动实现高质量充分就业。",
    "一、主要目标",
    "全年城镇新增就业 85 万人以上，城镇调查失业率控制在 5.5%以内，脱贫人口务工规模稳定在 140 万人以上。",
    "二、重点任务",
    "（一）稳定重点群体就业",
    "（1）促进高校毕业生多渠道就业。实施“才聚燕赵”招聘计划，年底前离校未就业高校毕业生就业率达到 90%以上。"
    "对吸纳离校 2 年内未就业高校毕业生的小微企业，给予每人 1000 元一次性吸纳就业补贴。（责任单位：省人力资源社会"
    "保障厅、教育厅、财政厅，各市（含定州、辛集市）人民政府）",
    "（2）做好退役军人就业安置。组织退役军人专场招聘会不少于 100 场。（责任单位：省退役军人事务厅、人力资源社会保障厅，"
    "各市（含定州、辛集市）人民政府）",
    "（3）强化困难人员就业援助。全年帮扶就业困难人员就业 8 万人，零就业家庭动态清零。（责任单位：省人力资源社会保障厅、"
    "民政厅、残联，各市（含定州、辛集市）人民政府）",
    "（二）支持创业带动就业",
    "（1）加大创业担保贷款支持。全年新发放创业担保贷款 60 亿元以上。（责任单位：省财政厅、人力资源社会保障厅，"
    "人民银行河北省分行，各市（含定州、辛集市）人民政府）",
    "（2）建设创业孵化载体。新认定省级创业孵化示范基地 20 家，每个设区市至少建设 1 个返乡入乡创业园。（责任单位："
    "省人力资源社会保障厅、发展改革委、团省委，各市（含定州、辛集市）人民政府）",
    "（三）提升就业服务质量",
    "一是推进就业服务平台建设，6 月底前建成省级就业信息资源库。（责任单位：省人力资源社会保障厅、政务服务管理办公室，"
    "各市（含定州、辛集市）人民政府）二是开展职业技能培训，全年开展补贴性职业技能培训 50 万人次以上。（责任单位："
    "省人力资源社会保障厅、财政厅、总工会，各市（含定州、辛集市）人民政府）三是健全就业失业监测，城镇调查失业率月度"
    "波动不超过 0.5 个百分点。（责任单位：省人力资源社会保障厅、统计局，国家统计局河北调查总队，各市（含定州、辛集市）"
    "人民政府）",
    "三、保障措施",
    "各地各部门要加强组织领导，实行月调度、季通报、半年总结、年度考核，对工作推进不力的及时约谈提醒。",
]

WIDTH = 23
LINES_PER_PAGE = 26


def pdf_lines(paragraphs: list[str]) -> list[str]:
    lines: list[str] = []
    for paragraph in paragraphs:
        for i in range(0, len(paragraph), WIDTH):
            lines.append(paragraph[i:i + WIDTH])
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        out.extend([line, ""])
        if number % LINES_PER_PAGE == 0:
            out.extend(["", f"— {number // LINES_PER_PAGE} —", "", ""])
    return out


if __name__ == "__main__":
    text = "\n".join(pdf_lines(PARAGRAPHS)) + "\n"
    (HERE / "hebei-2025-jobs-points.txt").write_bytes(text.encode("gb18030"))
