#!/bin/sh
# Installs the system programs tm-docs' commands need, when they are missing:
#   graphviz  - `dot`, which lays out the data-flow diagrams
#   chromium  - the headless browser of the browser tests (tests only)
# Usage: sh scripts/system-packages.sh graphviz [chromium]
# On Debian and Ubuntu it uses apt-get (through sudo when not root); elsewhere it
# says what to install and stops.
set -eu

missing=""
for package in "$@"; do
    case "$package" in
        graphviz) program=dot ;;
        chromium) program=chromium ;;
        *) echo "system-packages.sh: unknown package '$package'" >&2; exit 2 ;;
    esac
    command -v "$program" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "tm-docs needs:$missing. Install them with your system's package manager and run this again." >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=sudo
    else
        echo "tm-docs needs:$missing. Run as root, or install them: apt-get install$missing" >&2
        exit 1
    fi
fi
echo "Installing$missing with apt-get..." >&2
$sudo apt-get update -qq
# Without the recommended packages (a desktop's worth for chromium), but with one font
# family, so that diagrams and pages have real glyph widths to lay out.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    $missing fonts-liberation >/dev/null
