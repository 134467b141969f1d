"""Reading a zoo card for people: its status (pretrained / experimental, and why), its headline
figures as :class:`~dgpose_tf.evaluate.table.Row` s (model | trivial answer | anchor, ✗ where it
loses), the ``dgpose zoo info`` summary and the opening table of ``zoo/README.md``.

Headlines are read from the figures each family's publish step records on the card; a card
without them (an entry that ships no weights) has none.
"""

from __future__ import annotations

import math

from .evaluate.table import Row, format_rows

__all__ = ["status", "headline_rows", "summary", "zoo_table", "write_zoo_table"]

_START, _END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"

TASKS = {"semi_dgpose": "pose estimation, reconstruction, manipulation, transfer, sampling",
         "conditional_dgpose": "reconstruction and pose transfer from a target pose",
         "vunet": "reconstruction and pose transfer from a stickman",
         "mirrornet": "pose estimation (+ reconstruction, pose plausibility)",
         "pose_sequence_aegan": "2-D pose-sequence inpainting, cleaning, 12 → 28-joint "
                                "upsampling"}
SHORT_TASKS = {"semi_dgpose": "pose + drawing people", "conditional_dgpose": "pose transfer",
               "vunet": "pose transfer", "mirrornet": "pose estimation",
               "pose_sequence_aegan": "pose-sequence inpainting"}


def status(card):
    """``(word, reasons)``: "no weights", "experimental" (with why) or "pretrained"."""
    if not card.get("files"):
        return "no weights", ["train your own: " + card.get("training", {}).get("command", "")]
    why = []
    if card.get("below_trivial"):
        why.append(f"✗ below a trivial answer on {', '.join(card['below_trivial'])}")
    if card.get("below_baselines_real_motion"):
        why.append(f"✗ below what users pick today on real motion "
                   f"({len(card['below_baselines_real_motion'])} figures)")
    if card.get("below_anchor"):
        why.append(f"✗ below what users pick today on {', '.join(card['below_anchor'])}")
    if card.get("experimental_reason"):
        why.append(card["experimental_reason"])
    return ("experimental" if why else "pretrained"), why


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def headline_rows(card):
    """The entry's headline figures beside their trivial answers and anchors (may be empty)."""
    m, fam = card.get("metrics", {}), card.get("family")
    if "lspet_test" in m:                                   # real photos
        t = m["lspet_test"]
        heavy = t.get("anchors", {}).get("blazepose_heavy", {})
        return [Row(f, t["model"][f], t["mean_pose_floor"][f], _num(heavy.get(f)), True,
                    "mean-pose floor", "BlazePose heavy") for f in ("pck_torso_12", "pck_box_12")]
    if "real_motion_cmu" in m and m["real_motion_cmu"].get("aims"):
        rows = []
        for a in m["real_motion_cmu"]["aims"]:
            if a["gap_s"] != 0.25 or a["figure"] not in ("gap error /h", "16 upsampled pckh@0.5"):
                continue
            higher = "pckh" in a["figure"]
            rows.append(Row(f"CMU {a['figure']}", a["model"], None, a["must_value"], higher,
                            "", a["must"]))
        return rows
    syn = m.get("synthetic_test", {})
    if fam == "mirrornet" and "model" in syn:
        return [Row("PCK@0.2 box (synthetic)", syn["model"]["pck@0.2_bbox"],
                    syn["mean pose"]["pck@0.2_bbox"], None, True, "mean pose")]
    triv = syn.get("trivial", {})
    rows = []
    if "pck@0.5" in syn:
        rows.append(Row("PCK@0.5 torso (synthetic)", syn["pck@0.5"],
                        triv.get("mean pose", {}).get("pck@0.5"), None, True, "mean pose"))
    if fam == "vunet" and "transfer_masked_ssim" in syn:
        rows.append(Row("transfer masked SSIM (synthetic)", syn["transfer_masked_ssim"],
                        triv.get("copy appearance image", {}).get("transfer_masked_ssim"), None,
                        True, "copy appearance image"))
    elif "reconstruction_ssim" in syn:
        rows.append(Row("reconstruction SSIM (synthetic)", syn["reconstruction_ssim"],
                        triv.get("flat mean colour", {}).get("reconstruction_ssim"), None, True,
                        "flat mean colour",
                        reference=_num(triv.get("blurred input", {}).get("reconstruction_ssim")),
                        reference_name="input blurred σ 2"))
    return rows


def _size(card):
    return sum(f.get("size", 0) for f in card.get("files", {}).values()) / 1e6


def summary(card):
    """The human summary ``dgpose zoo info NAME`` prints."""
    word, why = status(card)
    inp, sk = card.get("input", {}), card.get("skeleton", {})
    paper = card.get("paper", {})
    lines = [f"{card['name']} (version {card.get('version', '—')}, {card.get('family')}): {word}"]
    lines += [f"  ✗ {w.lstrip('✗ ')}" for w in why]
    lines += ["", card.get("summary", ""), ""]
    rows = [("task", TASKS.get(card.get("family"), "")),
            ("paper", ", ".join(v for v in (paper.get("title"), paper.get("venue"),
                                            paper.get("link")) if v)),
            ("input", (f"{inp['size'][0]}×{inp['size'][1]} RGB, {inp.get('normalisation', '')}"
                       if inp.get("size") else
                       f"2-D joint sequences in {inp.get('coordinates', 'image')} coordinates"
                       + (" (x right, y down)" if inp.get("coordinates", "image") == "image"
                          else ""))),
            ("skeleton", f"{sk.get('name', '')}: {sk.get('units', '')}"),
            ("data", card.get("dataset", {}).get("name", "")),
            ("licence", card.get("licence", "")),
            ("files", f"{len(card.get('files', {}))} files, {_size(card):.1f} MB"),
            ("train", card.get("training", {}).get("command", "")),
            ("figures", card.get("metrics", {}).get("command", ""))]
    lines += [f"  {k:9s} {v}" for k, v in rows if v]
    head = headline_rows(card)
    if head:
        lines += ["", format_rows(head)]
    lines += ["", f"dgpose zoo info {card['name']} --json   # the whole card"]
    return "\n".join(lines)


def zoo_table(cards):
    """The opening table of ``zoo/README.md``: every entry, one row."""
    out = ["| entry | task | data | input | headline figure: model \\| trivial answer \\| anchor "
           "| size | licence | status |", "|" + " --- |" * 8]
    for c in cards:
        inp = c.get("input", {})
        size = f"{inp['size'][0]}²" if inp.get("size") else "24 frames × 28 joints"
        head = headline_rows(c)
        if head:
            r = head[0]
            fmt = lambda v: "—" if v is None else f"{v:.3f}"
            fig = (f"{r.figure}: {fmt(r.model)} \\| {fmt(r.trivial)}"
                   f"{' (' + r.trivial_name + ')' if r.trivial is not None else ''} \\| "
                   f"{fmt(r.anchor)}{' (' + r.anchor_name + ')' if r.anchor is not None else ''}"
                   f"{' ' + r.mark if r.mark else ''}")
        else:
            fig = "—"
        data = c.get("dataset", {}).get("name", "").split(" (")[0].split(";")[0]
        lic = c.get("dataset", {}).get("licence", c.get("licence", "")).split(" (")[0]
        word, _ = status(c)
        mb = f"{_size(c):.1f} MB" if c.get("files") else "—"
        out.append(f"| `{c['name']}` | {SHORT_TASKS.get(c.get('family'), '')} | {data} | "
                   f"{size} | {fig} | {mb} | {lic} | {word} |")
    return "\n".join(out)


def write_zoo_table(readme, cards, check=False):
    """Put :func:`zoo_table` between the README's markers; ``check``: only say whether it is
    up to date (True) without writing."""
    from pathlib import Path
    path = Path(readme)
    text = path.read_text()
    a, b = text.index(_START) + len(_START), text.index(_END)
    new = text[:a] + "\n" + zoo_table(cards) + "\n" + text[b:]
    if check:
        return new == text
    path.write_text(new)
    return True


if __name__ == "__main__":                                  # python -m dgpose_tf.zoo_summary
    from . import zoo
    readme = zoo.REPO / "zoo" / "README.md"
    write_zoo_table(readme, [zoo.info(n) for n in zoo.list_models()])
    print(f"wrote the entry table of {readme}")
