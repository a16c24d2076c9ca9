#!/usr/bin/env python3
"""`accelerate config` through a real pseudo-terminal (arrow-key/digit menus, Enter, typed fields) for every
answer path in config_wizard_paths.json: the file must load (PyYAML) to upstream's dict, and
`accelerate launch --dry_run` must read the intended settings back from it."""
import os
import tempfile

import config_e2e_common as c

c.need_binary()
for case in c.paths():
    with tempfile.TemporaryDirectory() as work:
        os.makedirs(os.path.join(work, "out"))
        out = os.path.join(work, "out", "config.yaml")
        status, screen, problem = c.run_pty(case, out, work)
        if not c.check(problem is None and status == 0, f"{case['name']}: wizard finished (exit {status}) {problem or ''}"):
            print(screen[-1500:])
            continue
        got = c.load(out)
        c.check(got == case["expect"], f"{case['name']}: file equals upstream's ({case['source']}) {c.diff(got, case['expect'])}")
        c.check("accelerate configuration saved at " + out in screen, f"{case['name']}: says where it saved")
        c.check("\u2794" in screen and "Please select a choice using the arrow or number keys" in screen,
                f"{case['name']}: menus drawn as upstream's bullet menu")
        if case.get("dry_run"):
            rc, settings, text = c.dry_run(out, work)
            c.check(rc == 0, f"{case['name']}: launch --dry_run reads it (exit {rc})")
            for k, v in case["dry_run"].items():
                c.check(settings.get(k) == v, f"{case['name']}: dry run {k} = {v} (got {settings.get(k)!r})")
c.finish()
