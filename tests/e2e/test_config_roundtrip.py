#!/usr/bin/env python3
"""Round trip: every config in configs/, in the wizard paths and in the launch conformance cases loads, is
written back (`accelerate config update`) and loads back to what upstream's loader makes of it; files already in
upstream's layout come back byte for byte; the writer's quoting and folding equal PyYAML's safe_dump and
json.dumps exactly (checked against the real PyYAML here); `launch --dry_run` reads the same settings from
the rewritten file as from the original."""
import copy
import glob
import json
import os
import shutil
import subprocess
import tempfile

import yaml

import config_e2e_common as c

c.need_binary()

CLUSTER = [("compute_environment", None), ("distributed_type", None), ("mixed_precision", None), ("use_cpu", False),
           ("debug", False), ("num_processes", -1), ("machine_rank", 0), ("num_machines", 1), ("gpu_ids", None),
           ("main_process_ip", None), ("main_process_port", None), ("rdzv_backend", "static"),
           ("same_network", False), ("main_training_function", "main"), ("enable_cpu_affinity", False),
           ("fp8_config", {}), ("deepspeed_config", {}), ("fsdp_config", {}), ("parallelism_config", {}),
           ("megatron_lm_config", {}), ("mpirun_config", {}), ("downcast_bf16", False), ("tpu_name", None),
           ("tpu_zone", None), ("tpu_use_cluster", False), ("tpu_use_sudo", False), ("command_file", None),
           ("commands", None), ("tpu_vm", None), ("tpu_env", None), ("dynamo_config", {})]
SAGEMAKER = [("compute_environment", None), ("distributed_type", None), ("mixed_precision", None),
             ("use_cpu", False), ("debug", False), ("ec2_instance_type", None), ("iam_role_name", None),
             ("image_uri", None), ("profile", None), ("region", "us-east-1"), ("num_machines", 1),
             ("gpu_ids", "all"), ("base_job_name", "accelerate-sagemaker-1"), ("pytorch_version", "1.10.2"),
             ("transformers_version", "4.17.0"), ("py_version", "py38"), ("sagemaker_inputs_file", None),
             ("sagemaker_metrics_file", None), ("additional_args", None), ("dynamo_config", {}),
             ("enable_cpu_affinity", False)]


def upstream_to_dict(d):
    """An independent model of upstream's load_config_from_file(...).to_dict() (config_args.py)."""
    d = dict(d)
    d.setdefault("compute_environment", "LOCAL_MACHINE")
    if "num_processes" not in d and d["distributed_type"] == "NO":
        d["num_processes"] = 1
    if "mixed_precision" not in d:
        d["mixed_precision"] = "fp16" if d.get("fp16") else None
    d.pop("fp16", None)
    if "dynamo_backend" in d:
        v = d.pop("dynamo_backend")
        d["dynamo_config"] = {} if v == "NO" else {"dynamo_backend": v}
    for k in ("use_cpu", "debug", "enable_cpu_affinity"):
        d.setdefault(k, False)
    fields = CLUSTER if d["compute_environment"] == "LOCAL_MACHINE" else SAGEMAKER
    assert not set(d) - {f for f, _ in fields}, set(d) - {f for f, _ in fields}
    obj = {f: copy.deepcopy(d[f]) if f in d else copy.deepcopy(default) for f, default in fields}
    for k, v in obj.items():
        if k.endswith("_config") and v is None:
            obj[k] = {}

    def conv(v):
        if isinstance(v, dict):
            return None if not v else {k: conv(x) for k, x in v.items()}
        return v
    return {k: conv(v) for k, v in obj.items() if conv(v) is not None}


def upstream_text(d, path):
    return json.dumps(d, indent=2, sort_keys=True) + "\n" if path.endswith(".json") else yaml.safe_dump(d)


def update(path, work):
    return subprocess.run([c.BIN, "config", "update", "--config_file", path], capture_output=True, text=True,
                          env=c.clean_env(work), cwd=work, timeout=60)


def round_trip(name, original_path, work, layout_is_upstream):
    copy_path = os.path.join(work, os.path.basename(original_path))
    shutil.copy(original_path, copy_path)
    original = open(original_path).read()
    want = upstream_to_dict(c.load(original_path) if not original.lstrip().startswith("{") else json.loads(original))
    p = update(copy_path, work)
    if not c.check(p.returncode == 0 and "Successfully updated the configuration file at" in p.stdout,
                   f"{name}: config update exit 0 ({p.returncode}: {p.stderr.strip()})"):
        return
    text = open(copy_path).read()
    got = c.load(copy_path)
    c.check(got == want, f"{name}: loads back to upstream's dict {c.diff(got, want)}")
    c.check(text == upstream_text(want, copy_path), f"{name}: written byte for byte as PyYAML/json would write it")
    if layout_is_upstream:
        c.check(text == original, f"{name}: a file in upstream's layout comes back unchanged")
    update(copy_path, work)
    c.check(open(copy_path).read() == text, f"{name}: a second update changes nothing")
    if want.get("compute_environment") == "LOCAL_MACHINE" and want.get("distributed_type") != "XLA":
        rc1, s1, out1 = c.dry_run(original_path, work)
        rc2, s2, out2 = c.dry_run(copy_path, work)
        s1.pop("config_file", None)
        s2.pop("config_file", None)
        c.check(rc1 == rc2 and s1 == s2, f"{name}: launch --dry_run reads the same settings before and after "
                                         f"({rc1}/{rc2} {c.diff(s2, s1)})")


# 1. configs/ (as upstream writes them; one legacy 0.x file and one `config default` JSON-in-.yaml file).
configs = sorted(glob.glob(os.path.join(c.SRC, "configs", "*")))
c.check(len(configs) >= 8, f"configs/ holds the sample configs ({len(configs)})")
for path in configs:
    with tempfile.TemporaryDirectory() as work:
        name = os.path.basename(path)
        upstream_layout = not name.startswith("legacy") and not open(path).read().startswith("{") or name.endswith(".json")
        round_trip(f"configs/{name}", path, work, upstream_layout)

# 2. The wizard paths' expected files and the launch conformance cases' configs, written by PyYAML itself.
sources = [(f"wizard path {p['name']}", yaml.safe_dump(p["expect"])) for p in c.paths()]
for case in json.load(open(os.path.join(c.SRC, "tests", "conformance", "cases.json"))):
    if case.get("default_config"):
        sources.append((f"conformance case {case['name']}", case["default_config"]))
for name, text in sources:
    with tempfile.TemporaryDirectory() as work:
        src = os.path.join(work, "src", "config.yaml")
        os.makedirs(os.path.dirname(src))
        with open(src, "w") as f:
            f.write(text)
        round_trip(name, src, work, name.startswith("wizard"))

# 3. Quoting, escaping and folding: strings that PyYAML writes plain, single-quoted, double-quoted or folded.
tricky = ["", "0", "29500", "NO", "no", "No", "yes", "on", "True", "null", "~", "y", "N", "0,1", "192.168.1.10",
          "~/hostfile", "1.0", ".inf", "1:30", "2020-01-01", "0x1F", "0b101", "1e8", "0o17", "a: b", "a #b", " lead",
          "trail ", "-", "- x", "*x", "!x", "%x", "@x", "`x", "{x", "[x", "it's", 'say "hi"', "a\tb", "h\u00e9llo",
          "\U0001f917 emoji", "line1\nline2", "---", "= ", "<<", "a,b", "?x", "? x", ":x", "x:", "-1", "+1", "1_000",
          "word " * 30, "x" * 100 + " " + "y" * 10, "a" * 70 + " " + "b" * 20 + " c",
          "quote's " * 15, "\u00e9" * 10 + " " + "z " * 40, "back\\slash", "tab\tand " * 12]
nested = {"fsdp_transformer_layer_cls_to_wrap": "a: b " * 20, "fsdp_version": 2, "empty": {}, "list": ["no", "", 1.5],
          "deeper": {"x": {}, "y": [True, None, 1e-05, 100000.0, 1e16, 0.1]}}
for i, s in enumerate(tricky):
    d = {"compute_environment": "LOCAL_MACHINE", "distributed_type": "MULTI_GPU", "num_processes": 2,
         "main_training_function": s, "gpu_ids": s, "tpu_env": [s, "x"], "commands": [s], "fsdp_config": nested}
    for ext in ("yaml", "json"):
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, f"config.{ext}")
            with open(path, "w") as f:
                f.write(json.dumps(d) if ext == "json" else yaml.safe_dump(d))
            p = update(path, work)
            want = upstream_text(upstream_to_dict(d), path)
            got = open(path).read()
            if not c.check(p.returncode == 0 and got == want, f"writer {ext} byte-exact for {s!r}"):
                print("  got: ", repr(got[:400]))
                print("  want:", repr(want[:400]))

# 4. What update refuses, with one line each.
with tempfile.TemporaryDirectory() as work:
    bad = os.path.join(work, "bad.yaml")
    with open(bad, "w") as f:
        f.write("distributed_type: MULTI_GPU\nnum_procesess: 2\n")
    p = update(bad, work)
    c.check(p.returncode == 1 and "unknown keys (['num_procesess'])" in p.stderr and "num_processes" in p.stderr,
            f"unknown key refused with a suggestion: {p.stderr.strip()!r}")
    p = update(os.path.join(work, "missing.yaml"), work)
    c.check(p.returncode == 1 and "doesn't exist" in p.stderr, f"missing file: {p.stderr.strip()!r}")
    p = subprocess.run([c.BIN, "config", "update"], capture_output=True, text=True, env=c.clean_env(work), cwd=work)
    c.check(p.returncode == 1 and "accelerate config" in p.stderr and "Traceback" not in p.stderr,
            f"no default file: one clear line ({p.stderr.strip()!r})")
    with open(bad, "w") as f:
        f.write("distributed_type: MULTI_WHAT\n")
    p = update(bad, work)
    c.check(p.returncode == 1 and "DistributedType" in p.stderr, f"bad distributed_type: {p.stderr.strip()!r}")

    # A config kept in a dotfiles folder and linked into place: updated where it lives,
    # the link kept (as upstream's open(path, "w") writes through it).
    dotfiles = os.path.join(work, "dotfiles")
    os.makedirs(dotfiles)
    target = os.path.join(dotfiles, "accelerate.yaml")
    with open(target, "w") as f:
        f.write("distributed_type: MULTI_GPU\nnum_processes: 2\n")
    link = os.path.join(work, "linked_config.yaml")
    os.symlink(os.path.relpath(target, work), link)
    p = update(link, work)
    c.check(p.returncode == 0 and os.path.islink(link) and os.path.realpath(link) == os.path.realpath(target),
            f"symlinked config: the link stays ({p.returncode}: {p.stderr.strip()!r})")
    c.check(c.load(target).get("num_processes") == 2 and "compute_environment" in open(target).read(),
            "symlinked config: the file it leads to holds the update")
    c.check(sorted(os.listdir(dotfiles)) == ["accelerate.yaml"], f"no temporary left: {os.listdir(dotfiles)}")
c.finish()
