#!/usr/bin/python3
"""make install and make uninstall, staged in a temporary DESTDIR with
PREFIX=/usr (and once with the default PREFIX): every file lands where the
README says with its mode and nothing else is installed; the installed
binary is the build's and runs; the unit's ExecStart and the nightly
script's kafkalat path follow PREFIX. Every man page renders with
`groff -man -ww` without a warning (a broken page is seen to warn, so the
check can fail), names itself, and documents every option its command's
--help lists (record, report and compare: the options of their agreed
interface). The bash completion registers itself, and completing
`kafkalat rep`, `kafkalat report --format `, --acks, compare's --format and
a FILE argument gives what it should. systemd-analyze verify accepts the
installed units (ExecStart pointed at the staged script, man pages found
in the staged tree), and their required keys are there. make uninstall
removes every file it installed."""
import os
import re
import shutil
import subprocess

from lib import BUILD, KAFKALAT, ROOT, main

FORMATS = ["text", "json", "html", "prom", "hgrm", "md"]
PAGES = ["kafkalat", "kafkalat-record", "kafkalat-report", "kafkalat-compare",
         "kafkalat-load", "kafkalat-replay"]

# What `make install PREFIX=P` installs, relative to P, with its mode.
LAYOUT = {
    "sbin/kafkalat": 0o755,
    "libexec/kafkalat/nightly": 0o755,
    "share/bash-completion/completions/kafkalat": 0o644,
    "lib/systemd/system/kafkalat-nightly.service": 0o644,
    "lib/systemd/system/kafkalat-nightly.timer": 0o644,
    "share/doc/kafkalat/kafkalat.default": 0o644,
    **{f"share/man/man8/{p}.8": 0o644 for p in PAGES},
}

# The options of the commands being written for issue 13 (their interface as
# agreed; `--help` cannot be asked yet). The man pages must name each.
AGREED_OPTIONS = {
    "kafkalat-record": ["-p", "-P", "-o", "-d", "-I", "--label", "--slowest", "--no-causes",
                        "--nice", "--"],
    "kafkalat-report": ["--format", "-o", "--baseline"] + FORMATS,
    "kafkalat-compare": ["-j", "--format", "--gate", "--floor-us", "--seed", "--"],
}


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


def make(t, target, destdir, *variables):
    r = run(["make", "-C", ROOT, "--no-print-directory", f"OUT={BUILD}", f"DESTDIR={destdir}",
             *variables, target])
    t.eq(r.returncode, 0, f"make {target} {' '.join(variables)} exit status "
         f"(stderr: {r.stderr.strip()[-300:]!r})", fatal=True)


def files_under(top):
    """{path relative to top: mode} of every file (and symlink) under top."""
    found = {}
    for d, _, names in os.walk(top):
        for n in names:
            p = os.path.join(d, n)
            found[os.path.relpath(p, top)] = os.lstat(p).st_mode & 0o7777
    return found


def check_layout(t, destdir, prefix):
    want = {os.path.join(prefix.lstrip("/"), k): v for k, v in LAYOUT.items()}
    got = files_under(destdir)
    t.eq(sorted(got), sorted(want), f"the files installed under DESTDIR with PREFIX={prefix}")
    for path, mode in want.items():
        if path in got:
            t.eq(oct(got[path]), oct(mode), f"mode of {path}")


def groff_warnings(page):
    """(exit status, warnings) of rendering page with every warning on."""
    r = run(["groff", "-man", "-ww", "-z", page])
    return r.returncode, r.stderr.strip()


def man_text(page):
    """A page's source with roff's escaped hyphens made plain."""
    with open(page) as f:
        return f.read().replace("\\-", "-").replace("\\(ti", "~")


def help_options(argv, skip=()):
    """The options a --help text names, leaving out lines containing skip."""
    r = run(argv)
    text = "\n".join(line for line in (r.stdout + r.stderr).splitlines()
                     if not any(s in line for s in skip))
    return sorted(set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text)))


def check_man(t, mandir):
    bad = os.path.join(t.dir, "broken.8")
    with open(bad, "w") as f:
        f.write(".TH BROKEN 8\n.SH NAME\nbroken\n.NOSUCHMACRO\n\\fQfont\\fR\n")
    rc, warn = groff_warnings(bad)
    t.check(warn != "", f"the warning check catches a broken page ({warn[:80]!r})")

    helps = {
        # its usage lines for load and replay name their options
        "kafkalat": help_options([KAFKALAT, "--help"], skip=("kafkalat load", "kafkalat replay")),
        "kafkalat-load": help_options([KAFKALAT, "load", "--help"]),
        "kafkalat-replay": help_options([KAFKALAT, "replay", "--help"]),
        "kafkalat-record": help_options([KAFKALAT, "record", "--help"],
                                        skip=("kafkalat report", "kafkalat load")),
        "kafkalat-report": help_options([KAFKALAT, "report", "--help"]),
        "kafkalat-compare": help_options([KAFKALAT, "compare", "--help"]),
    }
    for name in PAGES:
        page = os.path.join(mandir, name + ".8")
        rc, warn = groff_warnings(page)
        t.check(rc == 0 and warn == "", f"{name}.8 renders without a warning ({warn[:300]!r})")
        text = man_text(page)
        th = re.search(r"^\.TH (\S+) 8 ", text, re.M)
        t.eq(th and th.group(1), name.upper(), f"{name}.8: .TH names the page, section 8")
        t.check(re.search(rf"^{re.escape(name)} - ", text.replace("\\", ""), re.M) is not None
                or f".SH NAME\n{name} -" in text,
                f"{name}.8: NAME line starts with {name}")
        opts = helps[name]
        t.check(len(opts) >= 3, f"{name}: options to look for: {' '.join(opts)}")
        missing = [o for o in opts if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
        t.eq(missing, [], f"{name}.8: options of its --help (or agreed interface) not documented")
        for ref in sorted(set(re.findall(r"\.BR (kafkalat(?:-\w+)?) \(8\)", text))):
            t.check(ref in PAGES, f"{name}.8: SEE ALSO/reference {ref}(8) is a page we install")
    see_also = man_text(os.path.join(mandir, "kafkalat.8")).split(".SH SEE ALSO")[-1]
    for sub in PAGES[1:]:
        t.check(f"{sub} (8)" in see_also, f"kafkalat.8 SEE ALSO names {sub}(8)")


# Drives the completion function as bash does on Tab: COMP_WORDS/COMP_CWORD
# set, _kafkalat called, COMPREPLY printed one a line.
COMPLETE = r"""
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
_kafkalat
printf '%s\n' "${COMPREPLY[@]}"
"""


def complete(t, script, words, cwd):
    r = run(["bash", "--norc", "--noprofile", "-c", COMPLETE, "complete", script, *words],
            cwd=cwd)
    t.eq(r.stderr.strip(), "", f"completing {words!r}: nothing on stderr")
    return [w for w in r.stdout.split("\n") if w]


def check_completion(t, script):
    r = run(["bash", "--norc", "--noprofile", "-c", 'source "$1" && complete -p kafkalat',
             "x", script])
    t.eq((r.returncode, r.stdout.strip()), (0, "complete -F _kafkalat kafkalat"),
         f"sourcing the completion registers it (stderr {r.stderr.strip()!r})")
    files = os.path.join(t.dir, "files")
    os.mkdir(files)
    for n in ("base-1.data", "base-2.data", "new.data"):
        open(os.path.join(files, n), "w").close()
    cases = [
        (["kafkalat", "rep"], ["replay", "report"], "subcommands starting rep"),
        (["kafkalat", "repo"], ["report"], "subcommands starting repo"),
        (["kafkalat", ""], ["compare", "load", "record", "replay", "report"], "subcommands"),
        (["kafkalat", "report", "--format", ""], sorted(FORMATS), "report --format values"),
        (["kafkalat", "report", "--format", "h"], ["hgrm", "html"], "report --format h"),
        (["kafkalat", "compare", "--format", ""], ["json", "md", "text"], "compare --format values"),
        (["kafkalat", "load", "--acks", ""], ["0", "1", "all"], "load --acks values"),
        (["kafkalat", "load", "--profile", ""], ["java", "librdkafka"], "load --profile values"),
        (["kafkalat", "load", "--consumer-mode", ""], ["assign", "group"],
         "load --consumer-mode values"),
        (["kafkalat", "load", "--consu"], ["--consume-timeout", "--consumer-mode", "--consumers"],
         "load options starting --consu"),
        (["kafkalat", "report", "base"], ["base-1.data", "base-2.data"], "report FILE"),
        (["kafkalat", "compare", "base-1.data", "--", "n"], ["new.data"], "compare NEW FILE"),
        (["kafkalat", "record", "-o", "ne"], ["new.data"], "record -o FILE"),
        (["kafkalat", "replay", "new"], ["new.data"], "replay DUMP"),
        (["kafkalat", "-p", "1", "--req"], ["--requests"], "live option after -p PID"),
        (["kafkalat", "record", "--sl"], ["--slowest"], "record --slowest"),
    ]
    for words, want, what in cases:
        t.eq(sorted(complete(t, script, words, files)), want, f"completion: {what}")


UNIT_KEYS = {
    "kafkalat-nightly.service": [("Service", "Type", "oneshot"),
                                 ("Service", "ExecStart", "/usr/libexec/kafkalat/nightly"),
                                 ("Service", "EnvironmentFile", "-/etc/default/kafkalat")],
    "kafkalat-nightly.timer": [("Timer", "OnCalendar", None), ("Timer", "Persistent", "true"),
                               ("Timer", "RandomizedDelaySec", None),
                               ("Install", "WantedBy", "timers.target")],
}


def unit_keys(path):
    keys, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            keys[(section, k.strip())] = v.strip()
    return keys


def check_units(t, destdir):
    unitdir = os.path.join(destdir, "usr/lib/systemd/system")
    for unit, wanted in UNIT_KEYS.items():
        keys = unit_keys(os.path.join(unitdir, unit))
        for section, key, value in wanted:
            got = keys.get((section, key))
            t.check(got is not None and (value is None or got == value),
                    f"{unit}: [{section}] {key}={got} (want {value or 'set'})")
    tool = shutil.which("systemd-analyze")
    if tool is None:
        print("  info systemd-analyze is not installed: only the keys above were checked")
        return
    # ExecStart must name an executable file: point it at the staged script.
    vdir = os.path.join(t.dir, "verify")
    os.mkdir(vdir)
    for unit in UNIT_KEYS:
        with open(os.path.join(unitdir, unit)) as f:
            text = f.read()
        text = text.replace("ExecStart=/usr/", f"ExecStart={destdir}/usr/")
        with open(os.path.join(vdir, unit), "w") as f:
            f.write(text)
    env = dict(os.environ, MANPATH=os.path.join(destdir, "usr/share/man"))
    r = run([tool, "verify", *[os.path.join(vdir, u) for u in UNIT_KEYS]], env=env)
    out = (r.stdout + r.stderr).strip()
    t.check(r.returncode == 0 and out == "",
            f"systemd-analyze verify of the installed units: exit {r.returncode}, "
            f"output {out[:500]!r}")


def test(t):
    for tool in ("make", "groff", "bash", "install"):
        t.check(shutil.which(tool) is not None, f"{tool} is installed", fatal=True)
    destdir = t.path("root")
    make(t, "install", destdir, "PREFIX=/usr")
    check_layout(t, destdir, "/usr")
    sbin = os.path.join(destdir, "usr/sbin/kafkalat")
    with open(sbin, "rb") as a, open(KAFKALAT, "rb") as b:
        t.check(a.read() == b.read(), "the installed kafkalat is the build's")
    r = run([sbin, "--version"])
    t.check(r.returncode == 0 and r.stdout.startswith("kafkalat "),
            f"the installed kafkalat runs: {r.stdout.strip()!r}")
    with open(os.path.join(destdir, "usr/libexec/kafkalat/nightly")) as f:
        nightly = f.read()
    t.check("KAFKALAT=${KAFKALAT:-/usr/sbin/kafkalat}\n" in nightly,
            "the installed nightly script runs /usr/sbin/kafkalat")
    r = run(["bash", "-n", os.path.join(destdir, "usr/libexec/kafkalat/nightly")])
    t.eq(r.returncode, 0, f"the installed nightly script parses ({r.stderr.strip()!r})")
    check_man(t, os.path.join(destdir, "usr/share/man/man8"))
    check_completion(t, os.path.join(destdir, "usr/share/bash-completion/completions/kafkalat"))
    check_units(t, destdir)
    make(t, "uninstall", destdir, "PREFIX=/usr")
    t.eq(sorted(files_under(destdir)), [], "files left under DESTDIR after make uninstall")
    for d in ("usr/libexec/kafkalat", "usr/share/doc/kafkalat"):
        t.check(not os.path.exists(os.path.join(destdir, d)), f"uninstall removed {d}/")

    # the default PREFIX
    local = t.path("local")
    make(t, "install", local)
    check_layout(t, local, "/usr/local")
    keys = unit_keys(os.path.join(local, "usr/local/lib/systemd/system/kafkalat-nightly.service"))
    t.eq(keys.get(("Service", "ExecStart")), "/usr/local/libexec/kafkalat/nightly",
         "ExecStart with the default PREFIX")
    make(t, "uninstall", local)
    t.eq(sorted(files_under(local)), [], "files left after make uninstall (default PREFIX)")


if __name__ == "__main__":
    main(test)
