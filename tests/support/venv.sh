# Sourced by the scripts that run a Python tool against `batchconf serve`: sets $root and $target,
# and makes $venv hold `$package==$version`, installing it once (later runs reuse it, with no
# network). Needs $here (the calling script's folder), $package, $version and a label in $tool.

root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-target}"
# cargo reads a relative CARGO_TARGET_DIR from the directory it runs in, which is $root.
[[ "$target" = /* ]] || target="$root/$target"
venv="$target/${venv_name:?}"
python="${PYTHON:-python3}"

if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$package') != '$version')" 2>/dev/null; then
    echo "$tool: installing $package==$version into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version"
fi
