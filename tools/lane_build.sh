# Sourced by the CI lanes (tools/sanitize.sh, tools/avx2_lane.sh): lane_build VENV ARGS... makes a
# fresh virtual environment VENV and installs ".[test]" into it with the build options ARGS
# (pip -C settings), setting $venv and $start, and printing the build time under $lane.
lane_build() {
  venv=$1
  shift
  start=$(date +%s)
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/pip" install -q ".[test]" "$@"
  built=$(date +%s)
  echo "$lane: build $((built - start)) s"
}
